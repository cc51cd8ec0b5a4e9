#pragma once
/// ferry-bench --gpu-normalize: what a training step does first with a uint8
/// device batch (a *_u8 pipeline with --device cuda): convert its "image"
/// field (N x H x W x C uint8) to normalized float32 CHW on a stream of its
/// own, with ImageNet's mean and std, and wait for it, so the figure includes
/// the conversion. The stream waits for the batch's copy on the GPU and is
/// named to the batch (wait_on), so the batch's buffer is recycled only after
/// the conversion has read it.
#include <memory>

#include "loader/batch.h"

namespace ferry::bench {

class GpuNormalizer {
 public:
  /// Throws ferry::Error when this build has no CUDA stage.
  GpuNormalizer();
  ~GpuNormalizer();
  GpuNormalizer(const GpuNormalizer&) = delete;
  GpuNormalizer& operator=(const GpuNormalizer&) = delete;

  /// Converts `batch`'s image field and waits for the result. Throws
  /// ferry::InvalidOption for a batch that is not on the GPU or has no
  /// uint8 NHWC "image" field.
  void run(const Batch& batch);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ferry::bench
