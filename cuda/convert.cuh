#pragma once
/// GPU conversion of a uint8 HWC batch into a normalized CHW tensor of
/// float32 / float16 / bfloat16, with an optional horizontal flip per sample,
/// in one pass over the bytes. The CPU side then ships uint8 (4x less to copy
/// than float32) and the GPU normalizes. The formula and the rounding are those
/// of convert_reference.h, bit for bit.
///
///   cuda::ConvertSpec spec{.batch = 256, .height = 224, .width = 224, .channels = 3,
///                          .out_dtype = DType::kBFloat16,
///                          .mean = {0.485f, 0.456f, 0.406f}, .stddev = {0.229f, 0.224f, 0.225f}};
///   batch.wait_on(s);
///   cuda::convert_hwc_u8_to_chw(spec, images_dev, flips_dev, out_dev, s);
///
/// Plain host header: callable from .cpp files compiled by the host compiler.
#include <cuda_runtime_api.h>

#include <cstdint>

#include "cuda/convert_reference.h"

namespace ferry::cuda {

/// Queues the conversion on `stream` and returns (asynchronous). `src` holds
/// N*H*W*C bytes and `dst` room for output_bytes(spec), both in device memory
/// of the current device; they must not overlap. `flips` is null or N bytes
/// readable by the device (non-zero: mirror that sample left-right), e.g. a
/// field of the same device batch. Throws ferry::InvalidOption for a bad spec,
/// null pointers or a `dst` not aligned to its element size (checked before
/// anything reaches the device), ferry::Error when the launch fails.
void convert_hwc_u8_to_chw(const ConvertSpec& spec, const uint8_t* src, const uint8_t* flips, void* dst,
                           cudaStream_t stream);

}  // namespace ferry::cuda
