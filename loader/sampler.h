#pragma once
/// Samplers decide which sample indices an epoch visits, in which order.
/// Every sampler is a pure function of (its options, epoch): no hidden state,
/// so a resumed or re-run epoch is identical.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ferry {

class Sampler {
 public:
  virtual ~Sampler() = default;
  /// The indices of `epoch`, in visiting order. `dataset_size` is the
  /// dataset's size (a sampler may be shared between datasets of one size).
  virtual std::vector<int64_t> indices(uint64_t epoch, int64_t dataset_size) const = 0;
  /// How many indices indices() returns for this dataset size.
  virtual int64_t length(int64_t dataset_size) const = 0;
  virtual std::string describe() const = 0;
};

/// 0, 1, ..., n-1.
class SequentialSampler final : public Sampler {
 public:
  std::vector<int64_t> indices(uint64_t epoch, int64_t dataset_size) const override;
  int64_t length(int64_t dataset_size) const override { return dataset_size; }
  std::string describe() const override { return "sequential"; }
};

/// A permutation of 0..n-1 drawn from (seed, epoch): Fisher-Yates from the
/// last element down, j = Rng(mix_seed(seed, epoch)).below(i + 1). This rule
/// is the specification; the same seed gives the same order everywhere.
class RandomSampler final : public Sampler {
 public:
  explicit RandomSampler(uint64_t seed) : seed_(seed) {}
  std::vector<int64_t> indices(uint64_t epoch, int64_t dataset_size) const override;
  int64_t length(int64_t dataset_size) const override { return dataset_size; }
  std::string describe() const override { return "random(seed=" + std::to_string(seed_) + ")"; }

 private:
  uint64_t seed_;
};

/// Fisher-Yates as RandomSampler specifies it, usable by other samplers.
void shuffle_in_place(std::vector<int64_t>& v, uint64_t seed, uint64_t epoch);

}  // namespace ferry
