#pragma once
/// TarShardSampler: WebDataset-style sampling of tar shards, for the
/// map-style loader (indices into a TarShards source).
///
/// An epoch is cut by shard, never by sample, so no two ranks (and, through
/// shards_for_worker, no two workers) ever read the same shard:
///   1. shard order: 0..S-1, or shuffle_in_place(order, seed, epoch) when
///      shards are shuffled;
///   2. rank r of W takes order[r], order[r + W], ... (needs S >= W);
///   3. the rank's stream is its shards' samples, shard after shard, in file
///      order (sequential reads), then optionally passed through a bounded
///      shuffle buffer of B samples (below);
///   4. ranks get different sample counts when shards differ in size. To
///      keep ranks in step with a length that does not change per epoch,
///      kPad repeats the rank's own stream up to the largest count any rank
///      can get (the sum of the ceil(S/W) largest shards), kDrop cuts every
///      rank to the smallest (the floor(S/W) smallest shards); with
///      equal-size shards both are exact. kUneven leaves each rank its own
///      count (length() then reports epoch 0's, exact only for kInOrder).
///
/// Shuffle buffer (the specification; deterministic in seed, epoch, rank):
/// rng = Rng(mix_seed(mix_seed(seed, epoch), rank)); for each incoming x: if
/// the buffer holds fewer than B, append x; else j = rng.below(B), emit
/// buf[j], buf[j] = x. At the end, repeatedly j = rng.below(size), emit
/// buf[j], buf[j] = buf.back(), pop. Memory is B indices; a sample moves at
/// most about B positions, so reads stay mostly sequential.
#include <cstdint>
#include <string>
#include <vector>

#include "loader/sampler.h"

namespace ferry {

class TarShards;

enum class ShardOrder {
  kInOrder,   ///< shards in the order given
  kShuffled,  ///< a new shard permutation each epoch (seeded)
};

enum class ShardTail {
  kPad,     ///< every rank yields as many samples as the largest rank (repeats its own head)
  kDrop,    ///< every rank yields as many samples as the smallest rank
  kUneven,  ///< each rank yields exactly its shards' samples
};

struct TarShardSamplerOptions {
  int rank = 0;                              ///< this process's rank
  int world_size = 1;                        ///< ranks in all
  uint64_t seed = 0;                         ///< shard order and shuffle buffer seed
  ShardOrder order = ShardOrder::kShuffled;  ///< shard order per epoch
  int64_t shuffle_buffer = 1000;             ///< samples held for shuffling; 0 or 1 = none
  ShardTail tail = ShardTail::kPad;          ///< evening out ranks
};

class TarShardSampler final : public Sampler {
 public:
  /// `shard_begin`: first sample index of each shard plus the total at the end
  /// (TarShards::shard_begin). Throws InvalidOption for fewer shards than
  /// ranks or bad options.
  TarShardSampler(std::vector<int64_t> shard_begin, TarShardSamplerOptions options);
  TarShardSampler(const TarShards& shards, TarShardSamplerOptions options);

  std::vector<int64_t> indices(uint64_t epoch, int64_t dataset_size) const override;
  int64_t length(int64_t dataset_size) const override;
  std::string describe() const override;

  /// The shards rank `options.rank` reads in `epoch`, in order.
  std::vector<int64_t> shards_for_rank(uint64_t epoch) const;
  /// The shards worker `worker` of `num_workers` of this rank reads (strided
  /// over shards_for_rank): an iterable reader with workers uses this.
  std::vector<int64_t> shards_for_worker(uint64_t epoch, int worker, int num_workers) const;
  /// Samples of the given shards in order, through the shuffle buffer seeded
  /// with (seed, epoch, stream_id): the per-worker stream of an iterable reader.
  std::vector<int64_t> stream(const std::vector<int64_t>& shards, uint64_t epoch, uint64_t stream_id) const;

 private:
  int64_t rank_count(int rank, uint64_t epoch) const;
  std::vector<int64_t> order(uint64_t epoch) const;

  std::vector<int64_t> shard_begin_;
  TarShardSamplerOptions options_;
};

}  // namespace ferry
