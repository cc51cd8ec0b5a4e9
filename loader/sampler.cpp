#include "loader/sampler.h"

#include <numeric>
#include <utility>

#include "base/rng.h"

namespace ferry {

std::vector<int64_t> SequentialSampler::indices(uint64_t, int64_t dataset_size) const {
  std::vector<int64_t> v(static_cast<size_t>(dataset_size));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

void shuffle_in_place(std::vector<int64_t>& v, uint64_t seed, uint64_t epoch) {
  Rng rng(mix_seed(seed, epoch));
  for (size_t i = v.size(); i > 1; --i) {
    const size_t j = static_cast<size_t>(rng.below(i));
    std::swap(v[i - 1], v[j]);
  }
}

std::vector<int64_t> RandomSampler::indices(uint64_t epoch, int64_t dataset_size) const {
  std::vector<int64_t> v(static_cast<size_t>(dataset_size));
  std::iota(v.begin(), v.end(), 0);
  shuffle_in_place(v, seed_, epoch);
  return v;
}

}  // namespace ferry
