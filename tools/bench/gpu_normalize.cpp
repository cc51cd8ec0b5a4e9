#include "tools/bench/gpu_normalize.h"

#include "base/error.h"

#ifdef FERRY_HAVE_CUDA
#include "cuda/convert.cuh"
#include "cuda/runtime.h"
#endif

namespace ferry::bench {

#ifdef FERRY_HAVE_CUDA

struct GpuNormalizer::Impl {
  cuda::Stream stream;
  void* out = nullptr;  // float32 output, grown to the largest batch
  size_t out_bytes = 0;
  int device = -1;
};

GpuNormalizer::GpuNormalizer() : impl_(std::make_unique<Impl>()) {}

GpuNormalizer::~GpuNormalizer() {
  if (impl_->out) cuda::warn_unless_ok(cudaFree(impl_->out), "cudaFree(normalized batch)");
}

void GpuNormalizer::run(const Batch& batch) {
  if (batch.device() < 0) throw InvalidOption("--gpu-normalize: the batch is not on the GPU (use --device cuda)");
  const TensorView& image = batch["image"];
  if (image.dtype != DType::kUInt8 || image.shape.size() != 4)
    throw InvalidOption("--gpu-normalize: the image field is not uint8 N x H x W x C (use a *_u8 pipeline)");
  Impl& s = *impl_;
  cuda::ScopedDevice on(batch.device());
  if (s.device != batch.device()) {
    s.stream = cuda::Stream::non_blocking();
    s.device = batch.device();
  }
  cuda::ConvertSpec spec;
  spec.batch = image.shape[0];
  spec.height = image.shape[1];
  spec.width = image.shape[2];
  spec.channels = int(image.shape[3]);
  spec.out_dtype = DType::kFloat32;
  spec.mean = {0.485f, 0.456f, 0.406f, 0.f};
  spec.stddev = {0.229f, 0.224f, 0.225f, 1.f};
  const size_t need = cuda::output_bytes(spec);
  if (need > s.out_bytes) {
    if (s.out) FERRY_CUDA_CHECK(cudaFree(s.out));
    s.out = nullptr;
    FERRY_CUDA_CHECK(cudaMalloc(&s.out, need));
    s.out_bytes = need;
  }
  batch.wait_on(s.stream.get());
  cuda::convert_hwc_u8_to_chw(spec, static_cast<const uint8_t*>(image.data), nullptr, s.out, s.stream.get());
  s.stream.synchronize();
}

#else

struct GpuNormalizer::Impl {};

GpuNormalizer::GpuNormalizer() {
  throw Error("--gpu-normalize: this ferry was built without the CUDA stage; run without it");
}
GpuNormalizer::~GpuNormalizer() = default;
void GpuNormalizer::run(const Batch&) {}

#endif

}  // namespace ferry::bench
