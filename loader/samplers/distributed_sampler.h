#pragma once
/// DistributedSampler: one rank's share of another sampler's epoch, with the
/// semantics of torch.utils.data.DistributedSampler.
///
/// Let L = inner.indices(epoch, n) (already shuffled if inner shuffles; every
/// rank must use the same inner sampler and seed).
///   - Tail::kPad: L is extended by repeating its own head (cyclically) to
///     world_size * ceil(|L| / world_size); every index appears at least once
///     over all ranks, at most ceil(world_size / |L|) + 1 times.
///   - Tail::kDrop: L is cut to world_size * floor(|L| / world_size); the
///     dropped tail (< world_size indices) is not seen this epoch.
/// Rank r then takes L[r], L[r + world_size], L[r + 2 * world_size], ...
/// Every rank gets the same count, so collective ops stay in step.
///
/// detect_distributed_env() reads rank and world size the way torchrun and
/// SLURM publish them, and says which it used, for the loader's report.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "loader/sampler.h"

namespace ferry {

/// What to do when the epoch does not divide evenly among the ranks.
enum class Tail {
  kPad,   ///< repeat indices so every rank gets ceil(n / world_size) (torch's default)
  kDrop,  ///< drop the last n % world_size indices (torch's drop_last=True)
};

struct DistributedEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  /// Where the values came from, e.g. "torchrun (RANK=1, WORLD_SIZE=4, LOCAL_RANK=1)",
  /// "SLURM (SLURM_PROCID=3, SLURM_NTASKS=8)" or "default (single process)".
  std::string source;
};

/// Reads RANK/WORLD_SIZE/LOCAL_RANK (torchrun) first, then SLURM_PROCID/
/// SLURM_NTASKS/SLURM_LOCALID, else rank 0 of 1. Throws InvalidOption for a
/// malformed or inconsistent value, naming the variable.
DistributedEnv detect_distributed_env();
/// The same with an injectable getenv (for tests).
DistributedEnv detect_distributed_env(const std::function<const char*(const char*)>& getenv_fn);

class DistributedSampler final : public Sampler {
 public:
  /// Throws InvalidOption unless 0 <= rank < world_size.
  DistributedSampler(std::shared_ptr<const Sampler> inner, int rank, int world_size, Tail tail = Tail::kPad);
  /// Rank and world size from detect_distributed_env().
  static std::shared_ptr<DistributedSampler> from_env(std::shared_ptr<const Sampler> inner, Tail tail = Tail::kPad);

  std::vector<int64_t> indices(uint64_t epoch, int64_t dataset_size) const override;
  int64_t length(int64_t dataset_size) const override;
  std::string describe() const override;
  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  /// How rank and world size were chosen ("given", or the DistributedEnv source).
  const std::string& source() const { return source_; }

 private:
  std::shared_ptr<const Sampler> inner_;
  int rank_;
  int world_size_;
  Tail tail_;
  std::string source_ = "given";
};

}  // namespace ferry
