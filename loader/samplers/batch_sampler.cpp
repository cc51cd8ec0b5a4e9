#include "loader/samplers/batch_sampler.h"

#include <algorithm>

#include "base/error.h"

namespace ferry {

BatchSampler::BatchSampler(std::shared_ptr<const Sampler> sampler, int64_t batch_size, LastBatch last)
    : sampler_(std::move(sampler)), batch_size_(batch_size), last_(last) {
  if (!sampler_) throw InvalidOption("BatchSampler: no sampler");
  if (batch_size_ < 1)
    throw InvalidOption("BatchSampler: batch_size " + std::to_string(batch_size_) + " (expected >= 1)");
}

int64_t BatchSampler::num_batches(int64_t dataset_size) const {
  const int64_t n = sampler_->length(dataset_size);
  return last_ == LastBatch::kDrop ? n / batch_size_ : (n + batch_size_ - 1) / batch_size_;
}

std::vector<std::vector<int64_t>> BatchSampler::batches(uint64_t epoch, int64_t dataset_size) const {
  const std::vector<int64_t> all = sampler_->indices(epoch, dataset_size);
  const int64_t count = num_batches(dataset_size);
  std::vector<std::vector<int64_t>> out;
  out.reserve(static_cast<size_t>(count));
  for (int64_t b = 0; b < count; ++b) {
    const size_t begin = static_cast<size_t>(b * batch_size_);
    const size_t end = std::min(all.size(), begin + static_cast<size_t>(batch_size_));
    out.emplace_back(all.begin() + static_cast<std::ptrdiff_t>(begin), all.begin() + static_cast<std::ptrdiff_t>(end));
  }
  return out;
}

std::string BatchSampler::describe() const {
  return "batches of " + std::to_string(batch_size_) + (last_ == LastBatch::kDrop ? " (drop_last)" : "") + " over " +
         sampler_->describe();
}

}  // namespace ferry
