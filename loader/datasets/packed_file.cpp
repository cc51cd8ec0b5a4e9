#include "loader/datasets/packed_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "base/error.h"
#include "base/unique_fd.h"
#include "loader/datasets/crc32c.h"

namespace ferry {

using packed::FileHeader;
using packed::RecordEntry;

PackedFile::PackedFile(std::string path, PackedFileOptions options) : path_(std::move(path)), options_(options) {
  UniqueFd fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw DataError("PackedFile: cannot open '" + path_ + "': " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw DataError("PackedFile: fstat '" + path_ + "': " + std::strerror(errno));
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  const std::string where = "PackedFile: '" + path_ + "': ";
  if (file_size < packed::kHeaderBytes) {
    throw DataError(where + "file of " + std::to_string(file_size) + " bytes is too short for a .ferry header");
  }
  FileHeader h{};
  if (::pread(fd.get(), &h, sizeof h, 0) != static_cast<ssize_t>(sizeof h)) {
    throw DataError(where + "cannot read the header: " + std::strerror(errno));
  }
  if (std::memcmp(h.magic, packed::kMagic, sizeof h.magic) != 0) {
    throw DataError(where + "not a .ferry file (bad magic; make one with ferry-pack)");
  }
  if (h.version != packed::kVersion) {
    throw DataError(where + "format version " + std::to_string(h.version) +
                    " is not supported (this build reads version " + std::to_string(packed::kVersion) +
                    "; re-pack with this ferry-pack)");
  }
  if (crc32c(&h, offsetof(FileHeader, header_crc)) != h.header_crc) {
    throw DataError(where + "header checksum mismatch (corrupt header)");
  }
  const uint64_t index_bytes = h.num_records * sizeof(RecordEntry);
  if (h.alignment < 512 || (h.alignment & (h.alignment - 1)) != 0 || h.index_offset != packed::kHeaderBytes ||
      h.num_records > file_size / sizeof(RecordEntry) || h.names_offset != h.index_offset + index_bytes ||
      h.names_bytes > file_size || h.data_offset < h.names_offset + h.names_bytes || h.data_offset > file_size ||
      h.data_offset % h.alignment != 0) {
    throw DataError(where + "corrupt header (index or data area outside the file of " + std::to_string(file_size) +
                    " bytes)");
  }

  void* m = ::mmap(nullptr, file_size, PROT_READ, MAP_SHARED, fd.get(), 0);
  if (m == MAP_FAILED) throw DataError(where + "mmap failed: " + std::strerror(errno));
  map_ = static_cast<const uint8_t*>(m);
  map_bytes_ = file_size;
  try {
    const uint8_t* index_begin = map_ + h.index_offset;
    ::madvise(const_cast<uint8_t*>(map_), h.data_offset, MADV_WILLNEED);
    if (crc32c(index_begin, index_bytes + h.names_bytes) != h.index_crc) {
      throw DataError(where + "index checksum mismatch (corrupt index)");
    }
    index_ = reinterpret_cast<const RecordEntry*>(index_begin);
    num_records_ = h.num_records;
    for (uint64_t i = 0; i < num_records_; ++i) {
      const RecordEntry& e = index_[i];
      if (e.offset < h.data_offset || e.offset % h.alignment != 0 || e.offset > file_size ||
          e.length > file_size - e.offset || e.label < -1) {
        throw DataError(where + "corrupt index: record " + std::to_string(i) + " (offset " + std::to_string(e.offset) +
                        ", length " + std::to_string(e.length) + ") lies outside the data area");
      }
      num_classes_ = std::max(num_classes_, e.label + 1);
    }
    const char* names = reinterpret_cast<const char*>(map_ + h.names_offset);
    size_t start = 0;
    for (size_t k = 0; k < h.names_bytes; ++k) {
      if (names[k] == '\n') {
        classes_.emplace_back(names + start, k - start);
        start = k + 1;
      }
    }
    const uint8_t* data = map_ + h.data_offset;
    const size_t data_bytes = file_size - h.data_offset;
    switch (options_.access) {
      case AccessHint::kNormal:
        break;
      case AccessHint::kRandom:
        ::madvise(const_cast<uint8_t*>(data), data_bytes, MADV_RANDOM);
        break;
      case AccessHint::kSequential:
        ::madvise(const_cast<uint8_t*>(data), data_bytes, MADV_SEQUENTIAL);
        break;
      case AccessHint::kWillNeed:
        ::madvise(const_cast<uint8_t*>(data), data_bytes, MADV_WILLNEED);
        break;
    }
  } catch (...) {
    ::munmap(const_cast<uint8_t*>(map_), map_bytes_);
    throw;
  }
}

PackedFile::~PackedFile() {
  if (map_ != nullptr) ::munmap(const_cast<uint8_t*>(map_), map_bytes_);
}

std::span<const uint8_t> PackedFile::read(int64_t i, ReadBuffer& /*scratch*/) const {
  const RecordEntry& e = entry(i);
  const uint8_t* p = map_ + e.offset;
  if (options_.verify == Verify::kCrc32c) {
    const uint32_t got = crc32c(p, e.length);
    if (got != e.crc) {
      char buf[96];
      std::snprintf(buf, sizeof buf, ": CRC32C mismatch (stored %08x, computed %08x over %u bytes)", e.crc, got,
                    e.length);
      throw DataError(path(i) + buf + "; the file is corrupt, re-create it with ferry-pack");
    }
  }
  return {p, e.length};
}

void PackedFile::verify_all() const {
  for (int64_t i = 0; i < size(); ++i) {
    const RecordEntry& e = entry(i);
    if (crc32c(map_ + e.offset, e.length) != e.crc) {
      throw DataError(path(i) + ": CRC32C mismatch; the file is corrupt, re-create it with ferry-pack");
    }
  }
}

std::string PackedFile::describe() const {
  return "PackedFile(" + path_ + ": " + std::to_string(num_records_) + " records, " + std::to_string(num_classes_) +
         " classes, " + std::to_string(map_bytes_ >> 20) + " MiB, crc " +
         (options_.verify == Verify::kCrc32c ? "on" : "off") + ")";
}

}  // namespace ferry
