#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "cuda/convert.cuh"
#include "cuda/runtime.h"
#include "trace/trace.h"

namespace ferry::cuda {
namespace {

constexpr int kThreads = 256;
// Each block first fills a 256-entry table per channel (one division pair per
// possible byte value), then serves many rows with it: a byte becomes its output
// value with one shared-memory load, and the table is exactly the reference.
constexpr int kRowsPerBlockTarget = 16;

// Output element types by their storage: float32 as float, float16 and
// bfloat16 as raw 16-bit patterns (plain types in shared memory).
struct ToFloat32 {
  using T = float;
  __device__ static T from(float v) { return v; }
};
struct ToFloat16 {
  using T = unsigned short;
  __device__ static T from(float v) { return __half_as_ushort(__float2half_rn(v)); }
};
struct ToBFloat16 {
  using T = unsigned short;
  __device__ static T from(float v) { return __bfloat16_as_ushort(__float2bfloat16_rn(v)); }
};

struct Params {
  int64_t batch, height, width;
  int channels;
  float mean[4];
  float stddev[4];
};

template <typename To>
__global__ void __launch_bounds__(kThreads)
    hwc_u8_to_chw(Params p, const uint8_t* __restrict__ src, const uint8_t* __restrict__ flips,
                  typename To::T* __restrict__ dst) {
  using Out = typename To::T;
  __shared__ Out table[4][256];
  const int C = p.channels;
  for (int i = threadIdx.x; i < C * 256; i += blockDim.x) {
    const int c = i >> 8;
    table[c][i & 255] = To::from(normalize_u8(static_cast<uint8_t>(i & 255), p.mean[c], p.stddev[c]));
  }
  __syncthreads();

  const int64_t H = p.height, W = p.width;
  const int64_t rows = p.batch * H;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const int64_t n = r / H;
    const int64_t h = r - n * H;
    const bool flip = flips != nullptr && flips[n] != 0;
    const uint8_t* row = src + r * W * C;
    Out* plane0 = dst + (n * C * H + h) * W;  // channel c adds c * H * W
    for (int64_t w = threadIdx.x; w < W; w += blockDim.x) {
      const int64_t w_out = flip ? W - 1 - w : w;
      for (int c = 0; c < C; ++c) plane0[c * H * W + w_out] = table[c][row[w * C + c]];
    }
  }
}

int multiprocessors() {
  int device = 0;
  FERRY_CUDA_CHECK(cudaGetDevice(&device));
  int sms = 0;
  FERRY_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  return std::max(sms, 1);
}

template <typename To>
void launch(const Params& p, const uint8_t* src, const uint8_t* flips, void* dst, cudaStream_t stream) {
  const int64_t rows = p.batch * p.height;
  // Enough blocks to fill the GPU several times over, few enough that each
  // block amortizes its table over many rows.
  const int64_t by_rows = (rows + kRowsPerBlockTarget - 1) / kRowsPerBlockTarget;
  const int64_t blocks = std::max<int64_t>(1, std::min<int64_t>(by_rows, int64_t{multiprocessors()} * 8));
  hwc_u8_to_chw<To>
      <<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(p, src, flips, static_cast<typename To::T*>(dst));
  FERRY_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void convert_hwc_u8_to_chw(const ConvertSpec& spec, const uint8_t* src, const uint8_t* flips, void* dst,
                           cudaStream_t stream) {
  validate(spec);
  if (src == nullptr || dst == nullptr) throw InvalidOption("convert_hwc_u8_to_chw: null src or dst");
  // A misaligned store is a sticky error on the device: it would fail every
  // later CUDA call in this process, so refuse it here.
  const size_t align = dtype_size(spec.out_dtype);
  if (reinterpret_cast<uintptr_t>(dst) % align != 0)
    throw InvalidOption("convert_hwc_u8_to_chw: dst is not aligned to " + std::to_string(align) + " bytes (one " +
                        std::string(dtype_name(spec.out_dtype)) +
                        "); pass the start of an allocation or an offset that is a multiple of it");
  trace::ScopedStage stage(trace::Stage::kKernel);
  Params p{spec.batch, spec.height, spec.width, spec.channels, {}, {}};
  for (int c = 0; c < 4; ++c) {
    p.mean[c] = spec.mean[c];
    p.stddev[c] = spec.stddev[c];
  }
  switch (spec.out_dtype) {
    case DType::kFloat32:
      launch<ToFloat32>(p, src, flips, dst, stream);
      break;
    case DType::kFloat16:
      launch<ToFloat16>(p, src, flips, dst, stream);
      break;
    default:
      launch<ToBFloat16>(p, src, flips, dst, stream);
      break;
  }
}

}  // namespace ferry::cuda
