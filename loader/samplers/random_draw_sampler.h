#pragma once
/// RandomDrawSampler: torch's RandomSampler(replacement, num_samples).
///
/// Without replacement, an epoch is a sequence of permutations of 0..n-1 cut
/// to num_samples: block k (k = 0, 1, ...) is shuffle_in_place(iota(n),
/// k == 0 ? seed : mix_seed(seed, k), epoch), so with num_samples = n it is
/// exactly RandomSampler(seed). With replacement, draw j of an epoch is
/// Rng(mix_seed(seed, epoch)).below(n), in order. Both rules are the
/// specification: the same seed gives the same indices on every machine.
#include <cstdint>
#include <string>
#include <vector>

#include "loader/sampler.h"

namespace ferry {

enum class Replacement {
  kWithout,  ///< each index at most once per permutation
  kWith,     ///< independent draws; an index may repeat
};

struct RandomDrawOptions {
  uint64_t seed = 0;                                ///< base seed; epochs differ through mix_seed(seed, epoch)
  Replacement replacement = Replacement::kWithout;  ///< draw with or without replacement
  int64_t num_samples = -1;                         ///< indices per epoch; -1 = the dataset size
};

class RandomDrawSampler final : public Sampler {
 public:
  /// Throws InvalidOption for num_samples < -1.
  explicit RandomDrawSampler(RandomDrawOptions options);
  std::vector<int64_t> indices(uint64_t epoch, int64_t dataset_size) const override;
  int64_t length(int64_t dataset_size) const override;
  std::string describe() const override;

 private:
  RandomDrawOptions options_;
};

}  // namespace ferry
