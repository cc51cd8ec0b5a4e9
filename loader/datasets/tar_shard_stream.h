#pragma once
/// TarShardStream: the iterable path for tar shards. Reads shards front to
/// back with large read() calls (1 MiB by default; POSIX_FADV_SEQUENTIAL lets
/// the kernel read ahead further) and yields samples in file
/// order, without an index: what a worker of an iterable loader runs over its
/// shards (TarShardSampler::shards_for_worker).
///
///   TarShardStream s(sampler.shards_for_worker(epoch, w, n) -> paths);
///   TarShardStream::Sample x;
///   while (s.next(x)) use(x.key, x.bytes, x.label);
///
/// Grouping, labels and errors are those of TarShards (tar_shards.h): the
/// same shards give the same samples in the same order.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/unique_fd.h"
#include "loader/datasets/sample_source.h"
#include "loader/datasets/tar_shards.h"

namespace ferry {

class TarShardStream {
 public:
  struct Sample {
    std::string key;                 ///< e.g. "train/000123"
    std::span<const uint8_t> bytes;  ///< the image member; valid until the next call of next()
    int64_t label = -1;              ///< from the .cls member, -1 without one
    size_t shard = 0;                ///< index into the shard list
  };

  /// `read_size`: bytes per read() call (>= 4096). Throws InvalidOption.
  explicit TarShardStream(std::vector<std::string> shards, TarShardsOptions options = {},
                          size_t read_size = size_t{1} << 20);

  /// The next sample; false after the last shard. Throws DataError for a
  /// missing, truncated or corrupt shard (shard and offset in the message).
  bool next(Sample& out);
  /// Bytes read from files so far (headers included).
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  struct Member {
    std::string name;
    uint64_t offset;    // of the header, in the shard
    size_t header_pos;  // of the header, in buf_
    size_t data_pos;    // of the data, in buf_
    size_t size;
  };
  bool open_next_shard();
  bool next_member(Member& m);
  /// Makes `n` bytes available at buf_[pos_]; false at a clean end of file.
  bool fill(size_t n);
  void start_sample(const Member& m, std::string_view key);
  void add_member(const Member& m, std::string_view ext);
  void emit(Sample& out);

  std::vector<std::string> shards_;
  TarShardsOptions options_;
  size_t read_size_;
  size_t shard_ = 0;
  bool opened_ = false;
  UniqueFd fd_;
  ReadBuffer buf_;
  size_t pos_ = 0;           // next unread byte in buf_
  size_t end_ = 0;           // valid bytes in buf_
  uint64_t buf_offset_ = 0;  // file offset of buf_[0]
  bool eof_ = false;
  uint64_t bytes_read_ = 0;
  // The sample being assembled, and the one handed out last.
  // Its members stay in buf_ (fill() keeps everything from keep_ on), so the
  // image is handed out as a span into buf_, without a copy.
  bool pending_ = false;
  size_t keep_ = SIZE_MAX;  // buf_ position of the pending sample's first header
  std::string pending_key_;
  uint64_t pending_offset_ = 0;
  int64_t pending_label_ = -1;
  int pending_rank_ = -1;  // preference of the image member found so far
  size_t pending_image_pos_ = 0;
  size_t pending_image_size_ = 0;
};

}  // namespace ferry
