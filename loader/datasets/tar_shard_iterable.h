#pragma once
/// TarShardIterable: WebDataset-style tar shards as an iterable dataset. The
/// shards are read front to back (TarShardStream: large sequential reads, no
/// index), never split between ranks or workers, and an epoch is exactly
/// reproducible and resumable:
///
///   1. shard order per epoch: as given, or shuffle_in_place(order, seed, epoch);
///   2. rank r of W takes order[r], order[r + W], ... (needs shards >= W);
///   3. the rank's shards are dealt to `streams` lanes (lane l: its l-th,
///      (l + streams)-th, ... shard); the loader gives lane l to worker
///      l % num_workers, so the batches do not depend on the worker count;
///   4. each lane passes its samples through a shuffle buffer of B samples
///      with TarShardSampler's rule, rng = Rng(mix_seed(mix_seed(seed,
///      epoch), lane)): append while fewer than B; else j = below(B), emit
///      buf[j], buf[j] = x; at the end drain with j = below(size). Memory:
///      B encoded samples per lane being read.
///   5. each sample goes through the image pipeline ("image", "label"), or,
///      with pipeline name "raw", its bytes go out as they are ("bytes").
///
/// A resumed run passes over a lane's delivered samples without decoding
/// them (skip() reads, the buffer replays), so it continues exactly.
#include <memory>
#include <string>
#include <vector>

#include "loader/datasets/tar_shards.h"
#include "loader/iterable_dataset.h"
#include "loader/samplers/tar_shard_sampler.h"
#include "transforms/image_pipeline.h"

namespace ferry {

struct TarShardIterableOptions {
  int64_t streams = 4;                       ///< lanes per rank (>= 1; at most the rank's shards are used)
  ShardOrder order = ShardOrder::kShuffled;  ///< shard order per epoch, seeded with the loader's seed
  int64_t shuffle_buffer = 1000;             ///< samples per lane held for shuffling; 0 or 1 = none
  int rank = 0;                              ///< this process's rank
  int world_size = 1;                        ///< ranks in all
  TarShardsOptions tar;                      ///< member extensions
};

class TarShardIterable final : public IterableDataset {
 public:
  /// `pattern`: shards as a brace pattern (train-{000..099}.tar) or one path.
  /// `pipeline.name == "raw"` yields the encoded bytes. Throws InvalidOption.
  TarShardIterable(std::string pattern, transforms::PipelineSpec pipeline, TarShardIterableOptions options = {});

  Schema schema() const override;
  int64_t streams(uint64_t epoch, int num_workers) const override;
  std::unique_ptr<SampleStream> open(const StreamContext& ctx) override;
  std::string describe() const override;
  DatasetSpec spec() const override;

  /// The shards lane `stream` of this rank reads in `epoch`, in order.
  std::vector<std::string> shards_of(int64_t stream, uint64_t epoch, uint64_t seed) const;
  /// Builds one from spec().args (the registered kind "tar-stream").
  static std::shared_ptr<TarShardIterable> from_args(const std::string& args);

 private:
  std::string pattern_;
  std::vector<std::string> shards_;
  transforms::PipelineSpec spec_;
  bool raw_;
  std::shared_ptr<const transforms::ImagePipeline> pipeline_;  // null when raw
  TarShardIterableOptions options_;
};

}  // namespace ferry
