#pragma once
/// TarShards: WebDataset-style .tar shards as an indexed source.
///
/// A shard is a plain (ustar/pax/GNU) tar file whose members are grouped into
/// samples by key: the member path up to the first '.' of its file name
/// (`train/000123.jpg` and `train/000123.cls` form sample `train/000123`),
/// as WebDataset does. Consecutive members with the same key are one sample.
/// A sample's bytes are its image member (the first of `image_extensions`
/// present); its label is the integer text of its `.cls` member (-1 when absent).
///
/// Opening indexes every shard (one task per shard on a small thread pool, 512-byte header reads
/// that skip member data), so samples can then be read in any order with one
/// pread each: the map-style loader can use shards directly. Read in shard
/// order (TarShardSampler, tar_shard_sampler.h) the reads are sequential and
/// the kernel's readahead turns them into large reads.
///
/// A truncated or corrupt shard is a DataError naming the shard and the byte
/// offset of the bad header or member.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/unique_fd.h"
#include "loader/datasets/sample_source.h"

namespace ferry {

/// Expands shell-style brace patterns: `a-{000..002}.tar` gives a-000.tar,
/// a-001.tar, a-002.tar (numeric ranges keep the zero padding of the first
/// bound); `{a,b}` lists alternatives; several braces multiply. A pattern
/// without braces is returned as is. Throws InvalidOption for an unbalanced
/// brace or a bad range.
std::vector<std::string> expand_braces(std::string_view pattern);

struct TarShardsOptions {
  /// Member extensions that hold the sample bytes, in order of preference (lower case, no dot).
  std::vector<std::string> image_extensions = {"jpg", "jpeg", "png", "webp", "ppm", "bmp", "img"};
  /// Member extension holding the label as decimal text.
  std::string label_extension = "cls";
  /// Threads for indexing; 0 = one per core.
  int index_threads = 0;
};

class TarShards final : public SampleSource {
 public:
  /// Opens the shards `pattern` expands to (see expand_braces).
  explicit TarShards(std::string_view pattern, TarShardsOptions options = {});
  /// Opens the given shards, in this order.
  explicit TarShards(std::vector<std::string> shard_paths, TarShardsOptions options = {});

  int64_t size() const override { return static_cast<int64_t>(samples_.size()); }
  int64_t label(int64_t i) const override { return samples_[static_cast<size_t>(i)].label; }
  std::span<const uint8_t> read(int64_t i, ReadBuffer& scratch) const override;
  std::string path(int64_t i) const override;
  int64_t num_classes() const override { return num_classes_; }
  std::string describe() const override;

  /// Up to this many shards, one fd per shard stays open; with more, each read opens its shard.
  static constexpr size_t kMaxOpenShards = 256;

  int64_t num_shards() const { return static_cast<int64_t>(shards_.size()); }
  const std::string& shard_path(int64_t s) const { return shards_[static_cast<size_t>(s)]; }
  /// Shard s holds samples [shard_begin(s), shard_begin(s + 1)); shard_begin(num_shards()) == size().
  int64_t shard_begin(int64_t s) const { return shard_begin_[static_cast<size_t>(s)]; }
  /// The sample's WebDataset key, e.g. "train/000123".
  std::string_view key(int64_t i) const;
  /// The sample's image member, e.g. "train/000123.jpg".
  std::string_view member_name(int64_t i) const;
  double index_seconds() const { return index_seconds_; }

  /// One indexed sample (public for the index builder; not part of the API).
  struct Sample {
    uint64_t offset = 0;  // of the image member's data in its shard
    uint64_t length = 0;
    int64_t label = -1;
    uint64_t name_end = 0;  // end of the image member's name in names_
    uint32_t shard = 0;
  };

 private:
  void index(const TarShardsOptions& options);

  std::vector<std::string> shards_;
  std::vector<UniqueFd> fds_;  // empty when there are more than kMaxOpenShards shards
  std::vector<Sample> samples_;
  std::vector<int64_t> shard_begin_;
  std::string names_;  // image member name of every sample, back to back
  int64_t num_classes_ = 0;
  double index_seconds_ = 0;
};

}  // namespace ferry
