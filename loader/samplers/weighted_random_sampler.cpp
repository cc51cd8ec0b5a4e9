#include "loader/samplers/weighted_random_sampler.h"

#include <cmath>

#include "base/error.h"
#include "base/rng.h"

namespace ferry {
namespace {

/// Prefix sums of doubles with point updates; sums are formed in a fixed
/// order, so results are bit-identical on every IEEE-754 machine.
class Fenwick {
 public:
  explicit Fenwick(const std::vector<double>& w) : tree_(w.size() + 1, 0.0) {
    for (size_t i = 0; i < w.size(); ++i) {
      tree_[i + 1] += w[i];
      const size_t parent = (i + 1) + ((i + 1) & (~(i + 1) + 1));
      if (parent < tree_.size()) tree_[parent] += tree_[i + 1];
    }
    top_ = 1;
    while (top_ * 2 <= w.size()) top_ *= 2;
  }
  void add(size_t i, double delta) {
    for (size_t k = i + 1; k < tree_.size(); k += k & (~k + 1)) tree_[k] += delta;
  }
  /// The first index whose inclusive prefix sum exceeds u.
  size_t find(double u) const {
    size_t pos = 0;
    for (size_t step = top_; step > 0; step /= 2) {
      if (pos + step < tree_.size() && tree_[pos + step] <= u) {
        pos += step;
        u -= tree_[pos];
      }
    }
    return pos;  // 0-based index pos
  }

 private:
  std::vector<double> tree_;
  size_t top_;
};

}  // namespace

WeightedRandomSampler::WeightedRandomSampler(std::vector<double> weights, int64_t num_samples, Replacement replacement,
                                             uint64_t seed)
    : weights_(std::move(weights)), num_samples_(num_samples), replacement_(replacement), seed_(seed) {
  int64_t nonzero = 0;
  for (size_t i = 0; i < weights_.size(); ++i) {
    if (!std::isfinite(weights_[i]) || weights_[i] < 0) {
      throw InvalidOption("WeightedRandomSampler: weight " + std::to_string(i) + " is " + std::to_string(weights_[i]) +
                          " (expected a finite value >= 0)");
    }
    nonzero += weights_[i] > 0;
  }
  if (nonzero == 0) throw InvalidOption("WeightedRandomSampler: all weights are zero (or there are none)");
  if (num_samples_ < 0) throw InvalidOption("WeightedRandomSampler: num_samples must be >= 0");
  if (replacement_ == Replacement::kWithout && num_samples_ > nonzero) {
    throw InvalidOption("WeightedRandomSampler: cannot draw " + std::to_string(num_samples_) +
                        " samples without replacement from " + std::to_string(nonzero) + " non-zero weights");
  }
}

std::vector<int64_t> WeightedRandomSampler::indices(uint64_t epoch, int64_t dataset_size) const {
  if (dataset_size < static_cast<int64_t>(weights_.size())) {
    throw InvalidOption("WeightedRandomSampler: " + std::to_string(weights_.size()) + " weights for a dataset of " +
                        std::to_string(dataset_size) + " samples");
  }
  Rng rng(mix_seed(seed_, epoch));
  std::vector<double> w = weights_;
  Fenwick tree(w);
  double total = 0;
  for (double x : w) total += x;
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(num_samples_));
  while (static_cast<int64_t>(out.size()) < num_samples_) {
    size_t i = tree.find(rng.uniform() * total);
    if (i >= w.size()) i = w.size() - 1;
    // Rounding can land on a zero weight at a boundary: step to the nearest drawable one.
    while (i > 0 && w[i] == 0) --i;
    while (w[i] == 0) ++i;
    out.push_back(static_cast<int64_t>(i));
    if (replacement_ == Replacement::kWithout) {
      tree.add(i, -w[i]);
      total -= w[i];
      w[i] = 0;
      if (total <= 0) {  // accumulated rounding; recompute from scratch
        total = 0;
        for (double x : w) total += x;
      }
    }
  }
  return out;
}

std::string WeightedRandomSampler::describe() const {
  return "weighted_random(" + std::to_string(weights_.size()) +
         " weights, num_samples=" + std::to_string(num_samples_) +
         (replacement_ == Replacement::kWith ? ", with replacement" : "") + ", seed=" + std::to_string(seed_) + ")";
}

}  // namespace ferry
