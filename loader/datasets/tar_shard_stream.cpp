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
  // Move what is still needed (the pending sample's members and the unread
  // tail) to the front; grow for samples larger than the buffer.
  const size_t from = std::min(pos_, keep_);
  if (from > 0) {
    std::memmove(buf_.data(), buf_.data() + from, end_ - from);
    buf_offset_ += from;
    pos_ -= from;
    end_ -= from;
    if (keep_ != SIZE_MAX) keep_ -= from;
    if (pending_rank_ >= 0) pending_image_pos_ -= from;
  }
  const size_t need = pos_ + n;
  if (buf_.size() < need || buf_.size() - end_ < read_size_ / 2) {
    buf_.resize(std::max(buf_.size(), (need + read_size_ + read_size_ - 1) / read_size_ * read_size_));
  }
  while (end_ < need && !eof_) {
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
  return end_ >= need;
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
    const size_t header_pos = pos_;
    const size_t data_pos = pos_ + kTarBlock;
    pos_ += kTarBlock + std::min<uint64_t>(padded, end_ - pos_ - kTarBlock);  // the last padding may be missing
    if (is_ext) {
      ext.absorb(h.type, std::string_view(reinterpret_cast<const char*>(buf_.data() + data_pos), h.size), off, shard);
    } else if (detail::is_regular_member(h.type)) {
      m.name = std::move(h.name);
      m.offset = off;
      m.header_pos = header_pos;
      m.data_pos = data_pos;
      m.size = h.size;
      return true;
    }
  }
}

void TarShardStream::start_sample(const Member& m, std::string_view key) {
  pending_ = true;
  keep_ = m.header_pos;
  pending_key_.assign(key);
  pending_offset_ = m.offset;
  pending_label_ = -1;
  pending_rank_ = -1;
  pending_image_size_ = 0;
}

void TarShardStream::add_member(const Member& m, std::string_view ext_view) {
  const std::string ext = detail::lower_ascii(ext_view);
  if (ext == options_.label_extension) {
    if (m.size >= 64) {
      throw DataError(shards_[shard_] + ":" + m.name + ": label member of " + std::to_string(m.size) +
                      " bytes (expected a decimal class index)");
    }
    pending_label_ =
        detail::parse_label_text(std::string_view(reinterpret_cast<const char*>(buf_.data() + m.data_pos), m.size),
                                 shards_[shard_] + ":" + m.name);
    return;
  }
  for (size_t p = 0; p < options_.image_extensions.size(); ++p) {
    if (ext == options_.image_extensions[p] && (pending_rank_ < 0 || static_cast<int>(p) < pending_rank_)) {
      pending_rank_ = static_cast<int>(p);
      pending_image_pos_ = m.data_pos;
      pending_image_size_ = m.size;
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
  out.key = pending_key_;
  out.bytes = {buf_.data() + pending_image_pos_, pending_image_size_};
  out.label = pending_label_;
  out.shard = shard_;
  pending_ = false;
  keep_ = SIZE_MAX;
  pending_rank_ = -1;
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
