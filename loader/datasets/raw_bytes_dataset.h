#pragma once
/// RawBytesDataset: the "read" pipeline. Each sample is its source's encoded
/// bytes, untouched, and its label:
///   "bytes"  uint8, ragged (one variable-length row per sample)
///   "label"  int64 scalar
/// Useful to measure storage alone, to checksum a dataset, or to decode on
/// the GPU later.
#include <memory>
#include <string>

#include "loader/dataset.h"
#include "loader/datasets/sample_source.h"

namespace ferry {

class RawBytesDataset final : public Dataset {
 public:
  /// `expected_bytes`: bytes per sample the batch slot is sized for (larger
  /// samples still work); 0 = estimated from up to 16 samples spread over the source.
  explicit RawBytesDataset(std::shared_ptr<SampleSource> source, int64_t expected_bytes = 0);

  int64_t size() const override { return source_->size(); }
  Schema schema() const override;
  void get(SampleContext& ctx, SampleWriter& out) override;
  std::string describe() const override { return "RawBytes(" + source_->describe() + ")"; }
  const SampleSource& source() const { return *source_; }

 private:
  std::shared_ptr<SampleSource> source_;
  int64_t expected_bytes_;
};

}  // namespace ferry
