#include "loader/datasets/packed_writer.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "base/error.h"
#include "loader/datasets/crc32c.h"

namespace ferry {

using packed::FileHeader;
using packed::RecordEntry;

namespace {
uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }
}  // namespace

PackedWriter::PackedWriter(std::string path, uint64_t num_records, std::vector<std::string> class_names)
    : path_(std::move(path)), num_records_(num_records) {
  for (const auto& c : class_names) {
    if (c.find('\n') != std::string::npos) throw InvalidOption("PackedWriter: class name with a newline: '" + c + "'");
    names_ += c;
    names_ += '\n';
  }
  std::string tmpl = path_ + ".tmp.XXXXXX";
  fd_.reset(::mkostemp(tmpl.data(), O_CLOEXEC));
  if (!fd_) throw SystemError("mkostemp(" + tmpl + ")", errno);
  temp_path_ = tmpl;
  ::fchmod(fd_.get(), 0644);
  entries_.reserve(num_records_);
  const uint64_t names_offset = packed::kHeaderBytes + num_records_ * sizeof(RecordEntry);
  data_offset_ = align_up(names_offset + names_.size(), packed::kAlignment);
  next_offset_ = data_offset_;
}

PackedWriter::~PackedWriter() {
  if (!finished_ && !temp_path_.empty()) ::unlink(temp_path_.c_str());
}

void PackedWriter::write_at(const void* data, size_t size, uint64_t offset) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (size > 0) {
    const ssize_t w = ::pwrite(fd_.get(), p, size, static_cast<off_t>(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      throw SystemError("pwrite(" + temp_path_ + ")", errno);
    }
    p += w;
    size -= static_cast<size_t>(w);
    offset += static_cast<uint64_t>(w);
  }
}

void PackedWriter::add(std::span<const uint8_t> bytes, int64_t label) {
  if (finished_ || entries_.size() >= num_records_) {
    throw InvalidOption("PackedWriter: more records than the " + std::to_string(num_records_) + " announced");
  }
  if (bytes.size() > UINT32_MAX) throw InvalidOption("PackedWriter: a record over 4 GiB");
  if (label < -1) throw InvalidOption("PackedWriter: label " + std::to_string(label) + " (expected >= -1)");
  RecordEntry e{};
  e.offset = next_offset_;
  e.length = static_cast<uint32_t>(bytes.size());
  e.crc = crc32c(bytes.data(), bytes.size());
  e.label = label;
  write_at(bytes.data(), bytes.size(), e.offset);
  entries_.push_back(e);
  next_offset_ = align_up(e.offset + bytes.size(), packed::kAlignment);
}

void PackedWriter::finish() {
  if (finished_) return;
  if (entries_.size() != num_records_) {
    throw InvalidOption("PackedWriter: " + std::to_string(entries_.size()) + " records added, " +
                        std::to_string(num_records_) + " announced");
  }
  // The index table and the class names are adjacent and share one checksum.
  std::vector<uint8_t> index(entries_.size() * sizeof(RecordEntry) + names_.size());
  if (!entries_.empty()) std::memcpy(index.data(), entries_.data(), entries_.size() * sizeof(RecordEntry));
  std::memcpy(index.data() + entries_.size() * sizeof(RecordEntry), names_.data(), names_.size());

  FileHeader h{};
  std::memcpy(h.magic, packed::kMagic, sizeof h.magic);
  h.version = packed::kVersion;
  h.alignment = packed::kAlignment;
  h.num_records = num_records_;
  h.index_offset = packed::kHeaderBytes;
  h.names_offset = packed::kHeaderBytes + entries_.size() * sizeof(RecordEntry);
  h.names_bytes = names_.size();
  h.data_offset = data_offset_;
  h.index_crc = crc32c(index.data(), index.size());
  h.header_crc = crc32c(&h, offsetof(FileHeader, header_crc));

  std::vector<uint8_t> header(packed::kHeaderBytes, 0);
  std::memcpy(header.data(), &h, sizeof h);
  write_at(header.data(), header.size(), 0);
  write_at(index.data(), index.size(), packed::kHeaderBytes);
  // The last record's padding: the file ends on an alignment boundary.
  if (::ftruncate(fd_.get(), static_cast<off_t>(next_offset_)) != 0)
    throw SystemError("ftruncate(" + temp_path_ + ")", errno);
  if (::fsync(fd_.get()) != 0) throw SystemError("fsync(" + temp_path_ + ")", errno);
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    throw SystemError("rename(" + temp_path_ + " -> " + path_ + ")", errno);
  }
  finished_ = true;
  fd_.reset();
}

}  // namespace ferry
