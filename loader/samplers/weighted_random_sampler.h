#pragma once
/// WeightedRandomSampler: torch's WeightedRandomSampler(weights, num_samples,
/// replacement). Index i is drawn with probability weights[i] / sum.
///
/// Specification (so the order is the same on every machine): one
/// Rng(mix_seed(seed, epoch)) per epoch; each draw takes u = rng.uniform() *
/// total and picks the first index whose running weight sum (a Fenwick tree of
/// doubles, summed in a fixed order) exceeds u. Without replacement the drawn
/// index's weight is then set to zero.
#include <cstdint>
#include <string>
#include <vector>

#include "loader/sampler.h"
#include "loader/samplers/random_draw_sampler.h"

namespace ferry {

class WeightedRandomSampler final : public Sampler {
 public:
  /// Throws InvalidOption for negative or non-finite weights, an all-zero
  /// weight vector, or (without replacement) num_samples above the number of
  /// non-zero weights.
  WeightedRandomSampler(std::vector<double> weights, int64_t num_samples, Replacement replacement = Replacement::kWith,
                        uint64_t seed = 0);
  /// Indices come from the weights; dataset_size must be at least weights().size().
  std::vector<int64_t> indices(uint64_t epoch, int64_t dataset_size) const override;
  int64_t length(int64_t /*dataset_size*/) const override { return num_samples_; }
  std::string describe() const override;
  const std::vector<double>& weights() const { return weights_; }

 private:
  std::vector<double> weights_;
  int64_t num_samples_;
  Replacement replacement_;
  uint64_t seed_;
};

}  // namespace ferry
