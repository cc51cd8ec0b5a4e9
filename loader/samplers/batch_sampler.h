#pragma once
/// BatchSampler: cuts a sampler's epoch into batches (torch's BatchSampler).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "loader/sampler.h"

namespace ferry {

/// What to do with a last batch smaller than batch_size.
enum class LastBatch {
  kKeep,  ///< yield it (torch drop_last=False)
  kDrop,  ///< skip it (torch drop_last=True)
};

class BatchSampler {
 public:
  /// Throws InvalidOption for batch_size < 1 or no sampler.
  BatchSampler(std::shared_ptr<const Sampler> sampler, int64_t batch_size, LastBatch last = LastBatch::kKeep);
  /// The epoch's batches, in order.
  std::vector<std::vector<int64_t>> batches(uint64_t epoch, int64_t dataset_size) const;
  int64_t num_batches(int64_t dataset_size) const;
  std::string describe() const;

 private:
  std::shared_ptr<const Sampler> sampler_;
  int64_t batch_size_;
  LastBatch last_;
};

}  // namespace ferry
