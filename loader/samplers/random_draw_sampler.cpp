#include "loader/samplers/random_draw_sampler.h"

#include <numeric>

#include "base/error.h"
#include "base/rng.h"

namespace ferry {

RandomDrawSampler::RandomDrawSampler(RandomDrawOptions options) : options_(options) {
  if (options_.num_samples < -1) {
    throw InvalidOption("RandomDrawSampler: num_samples " + std::to_string(options_.num_samples) +
                        " (expected -1 for the dataset size, or >= 0)");
  }
}

int64_t RandomDrawSampler::length(int64_t dataset_size) const {
  return options_.num_samples < 0 ? dataset_size : options_.num_samples;
}

std::vector<int64_t> RandomDrawSampler::indices(uint64_t epoch, int64_t dataset_size) const {
  const int64_t count = length(dataset_size);
  std::vector<int64_t> out;
  if (count == 0) return out;
  if (dataset_size <= 0)
    throw InvalidOption("RandomDrawSampler: cannot draw " + std::to_string(count) + " samples from an empty dataset");
  out.reserve(static_cast<size_t>(count));
  if (options_.replacement == Replacement::kWith) {
    Rng rng(mix_seed(options_.seed, epoch));
    for (int64_t k = 0; k < count; ++k)
      out.push_back(static_cast<int64_t>(rng.below(static_cast<uint64_t>(dataset_size))));
    return out;
  }
  std::vector<int64_t> perm(static_cast<size_t>(dataset_size));
  for (uint64_t block = 0; static_cast<int64_t>(out.size()) < count; ++block) {
    std::iota(perm.begin(), perm.end(), 0);
    shuffle_in_place(perm, block == 0 ? options_.seed : mix_seed(options_.seed, block), epoch);
    const size_t take = static_cast<size_t>(std::min<int64_t>(dataset_size, count - static_cast<int64_t>(out.size())));
    out.insert(out.end(), perm.begin(), perm.begin() + static_cast<std::ptrdiff_t>(take));
  }
  return out;
}

std::string RandomDrawSampler::describe() const {
  return "random(seed=" + std::to_string(options_.seed) +
         (options_.replacement == Replacement::kWith ? ", with replacement" : "") +
         (options_.num_samples >= 0 ? ", num_samples=" + std::to_string(options_.num_samples) : "") + ")";
}

}  // namespace ferry
