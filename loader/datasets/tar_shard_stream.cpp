#include "loader/datasets/tar_shard_stream.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/error.h"
#include "loader/datasets/detail/tar_format.h"

namespace ferry {

using detail::kTarBlock;

TarShardStream::TarShardStream(std::vector<std::string> shards, TarShardsOptions options, size_t read_size)
    : shards_(std::move(shards)), options_(std::move(options)), read_size_(read_size) {
  if (read_size_ < 4096) throw InvalidOption("TarShardStream: read_size must be >= 4096");
  for (auto& e : options_.image_extensions) e = detail::lower_ascii(e);
  options_.label_extension = detail::lower_ascii(options_.label_extension);
  buf_.resize(read_size_);
}

bool TarShardStream::open_next_shard() {
  if (opened_) ++shard_;
  opened_ = true;
  if (shard_ >= shards_.size()) return false;
  fd_.reset(::open(shards_[shard_].c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd_) throw DataError("TarShardStream: cannot open shard '" + shards_[shard_] + "': " + std::strerror(errno));
  ::posix_fadvise(fd_.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  pos_ = end_ = 0;
  buf_offset_ = 0;
  eof_ = false;
  return true;
}

bool TarShardStream::fill(size_t n) {
  if (end_ - pos_ >= n) return true;
  // Move the unread tail to the front, grow for members larger than a read.
  const size_t keep = end_ - pos_;
  if (pos_ > 0) {
    std::memmove(buf_.data(), buf_.data() + pos_, keep);
    buf_offset_ += pos_;
    pos_ = 0;
    end_ = keep;
  }
  if (buf_.size() < n) buf_.resize((n + read_size_ - 1) / read_size_ * read_size_);
  while (end_ < n && !eof_) {
    const size_t want = std::min(buf_.size() - end_, read_size_);
    const ssize_t r = ::read(fd_.get(), buf_.data() + end_, want);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw DataError(shards_[shard_] + ": read failed at offset " + std::to_string(buf_offset_ + end_) + ": " +
                      std::strerror(errno));
    }
    if (r == 0) eof_ = true;
    end_ += static_cast<size_t>(r);
    bytes_read_ += static_cast<uint64_t>(r);
  }
  return end_ - pos_ >= n;
}

bool TarShardStream::next_member(Member& m) {
  const std::string& shard = shards_[shard_];
  detail::TarExtension ext;
  for (;;) {
    const uint64_t off = buf_offset_ + pos_;
    if (!fill(kTarBlock)) {
      if (end_ == pos_) return false;  // ends on a block boundary without end marker: accepted
      throw DataError(shard + ": truncated tar: partial header at offset " + std::to_string(off) + " (file size " +
                      std::to_string(buf_offset_ + end_) + ")");
    }
    detail::TarHeader h;
    if (!detail::parse_tar_header(buf_.data() + pos_, off, shard, h)) return false;  // end-of-archive marker
    const bool is_ext = detail::TarExtension::is_extension(h.type);
    if (!is_ext) ext.apply_to(h);
    if (is_ext && h.size > detail::kMaxTarExtension) {
      throw DataError(shard + ": corrupt tar: extended header of " + std::to_string(h.size) + " bytes at offset " +
                      std::to_string(off));
    }
    const uint64_t padded = (h.size + kTarBlock - 1) / kTarBlock * kTarBlock;
    if (!fill(kTarBlock + h.size)) {
      throw DataError(shard + ": truncated tar: member '" + h.name + "' with header at offset " + std::to_string(off) +
                      " needs " + std::to_string(h.size) + " bytes from offset " + std::to_string(off + kTarBlock) +
                      " but the file ends at offset " + std::to_string(buf_offset_ + end_));
    }
    const uint8_t* data = buf_.data() + pos_ + kTarBlock;
    pos_ += kTarBlock + std::min<uint64_t>(padded, end_ - pos_ - kTarBlock);  // the last padding may be missing
    if (is_ext) {
      ext.absorb(h.type, std::string_view(reinterpret_cast<const char*>(data), h.size), off, shard);
    } else if (detail::is_regular_member(h.type)) {
      m.name = std::move(h.name);
      m.offset = off;
      m.data = {data, h.size};
      return true;
    }
  }
}

void TarShardStream::start_sample(const Member& m, std::string_view key) {
  pending_ = true;
  pending_key_.assign(key);
  pending_offset_ = m.offset;
  pending_label_ = -1;
  pending_rank_ = -1;
  pending_image_.clear();
}

void TarShardStream::add_member(const Member& m, std::string_view ext_view) {
  const std::string ext = detail::lower_ascii(ext_view);
  if (ext == options_.label_extension) {
    if (m.data.size() >= 64) {
      throw DataError(shards_[shard_] + ":" + m.name + ": label member of " + std::to_string(m.data.size()) +
                      " bytes (expected a decimal class index)");
    }
    pending_label_ = detail::parse_label_text(
        std::string_view(reinterpret_cast<const char*>(m.data.data()), m.data.size()), shards_[shard_] + ":" + m.name);
    return;
  }
  for (size_t p = 0; p < options_.image_extensions.size(); ++p) {
    if (ext == options_.image_extensions[p] && (pending_rank_ < 0 || static_cast<int>(p) < pending_rank_)) {
      pending_rank_ = static_cast<int>(p);
      // The read buffer moves on, so the image is kept in its own buffer.
      pending_image_.resize(m.data.size());
      if (!m.data.empty()) std::memcpy(pending_image_.data(), m.data.data(), m.data.size());
    }
  }
}

void TarShardStream::emit(Sample& out) {
  if (pending_rank_ < 0) {
    std::string exts;
    for (const auto& e : options_.image_extensions) exts += (exts.empty() ? "." : ", .") + e;
    throw DataError(shards_[shard_] + ": sample '" + pending_key_ + "' (header at offset " +
                    std::to_string(pending_offset_) + ") has no image member (" + exts + ")");
  }
  out_image_.swap(pending_image_);
  out.key = pending_key_;
  out.bytes = {out_image_.data(), out_image_.size()};
  out.label = pending_label_;
  out.shard = shard_;
  pending_ = false;
}

bool TarShardStream::next(Sample& out) {
  if (!opened_ && !open_next_shard()) return false;
  Member m;
  for (;;) {
    if (shard_ >= shards_.size()) return false;
    if (!next_member(m)) {
      if (pending_) {
        emit(out);
        return true;
      }
      if (!open_next_shard()) return false;
      continue;
    }
    std::string_view key;
    std::string_view ext;
    if (!detail::split_key(m.name, key, ext)) continue;  // not part of any sample
    if (pending_ && key != pending_key_) {
      // `m` starts the next sample: hand out the finished one, then keep m.
      emit(out);
      start_sample(m, key);
      add_member(m, ext);
      return true;
    }
    if (!pending_) start_sample(m, key);
    add_member(m, ext);
  }
}

}  // namespace ferry
