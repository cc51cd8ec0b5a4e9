#pragma once
/// uint8 HWC images -> normalized CHW float32 / float16 / bfloat16, with an
/// optional horizontal flip per sample: the specification shared by the GPU
/// kernel (convert.cuh) and its plain C++ reference here. Header-only and free
/// of CUDA, so the reference is built and tested on every machine.
///
///   out[n][c][h][w'] = (in[n][h][w][c] / 255 - mean[c]) / stddev[c]
///   w' = flip[n] ? W - 1 - w : w
///
/// mean and stddev are in 0..1 units, as torchvision's Normalize after ToTensor
/// (ImageNet: mean {0.485, 0.456, 0.406}, stddev {0.229, 0.224, 0.225}).
/// float16 and bfloat16 round to nearest even, bit for bit as CUDA's
/// __float2half_rn and __float2bfloat16_rn.
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "base/dtype.h"
#include "base/error.h"

#if defined(__CUDACC__)
#define FERRY_HOST_DEVICE __host__ __device__
#else
#define FERRY_HOST_DEVICE
#endif

namespace ferry::cuda {

/// Shape of one batch and what to do with it.
struct ConvertSpec {
  int64_t batch = 0;                                ///< N samples
  int64_t height = 0;                               ///< H rows per image
  int64_t width = 0;                                ///< W pixels per row
  int channels = 3;                                 ///< C interleaved channels (1..4)
  DType out_dtype = DType::kFloat32;                ///< kFloat32, kFloat16 or kBFloat16
  std::array<float, 4> mean{0.f, 0.f, 0.f, 0.f};    ///< per channel, 0..1 units
  std::array<float, 4> stddev{1.f, 1.f, 1.f, 1.f};  ///< per channel, finite and non-zero
};

/// Throws ferry::InvalidOption naming the first bad field.
inline void validate(const ConvertSpec& s) {
  if (s.batch <= 0 || s.height <= 0 || s.width <= 0) {
    throw InvalidOption("ConvertSpec: batch, height and width must be positive (got " + std::to_string(s.batch) + "x" +
                        std::to_string(s.height) + "x" + std::to_string(s.width) + ")");
  }
  if (s.channels < 1 || s.channels > 4) {
    throw InvalidOption("ConvertSpec: channels must be 1..4 (got " + std::to_string(s.channels) + ")");
  }
  if (s.out_dtype != DType::kFloat32 && s.out_dtype != DType::kFloat16 && s.out_dtype != DType::kBFloat16) {
    throw InvalidOption("ConvertSpec: out_dtype must be float32, float16 or bfloat16 (got " +
                        std::string(dtype_name(s.out_dtype)) + ")");
  }
  for (int c = 0; c < s.channels; ++c) {
    if (!std::isfinite(s.mean[c]) || !std::isfinite(s.stddev[c]) || s.stddev[c] == 0.f) {
      throw InvalidOption("ConvertSpec: channel " + std::to_string(c) +
                          " needs a finite mean and a finite non-zero stddev");
    }
  }
}

inline size_t input_bytes(const ConvertSpec& s) {
  return static_cast<size_t>(s.batch * s.height * s.width * s.channels);
}
inline size_t output_bytes(const ConvertSpec& s) { return input_bytes(s) * dtype_size(s.out_dtype); }

/// The one formula, compiled for host and device alike: two IEEE divisions and
/// a subtraction (nothing for a compiler to fuse), so both sides agree bit for bit.
FERRY_HOST_DEVICE inline float normalize_u8(uint8_t x, float mean, float stddev) {
  return (static_cast<float>(x) / 255.0f - mean) / stddev;
}

/// IEEE binary16 bits of `f`, round to nearest even; NaN -> 0x7fff as CUDA does.
inline uint16_t float_to_half_bits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof x);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t abs = x & 0x7fffffffu;
  if (abs > 0x7f800000u) return 0x7fffu;
  const uint32_t e = abs >> 23;
  if (e >= 143) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 2^16: infinity
  if (e >= 113) {                                              // normal half
    uint32_t h = ((e - 112) << 10) | ((abs >> 13) & 0x3ffu);
    const uint32_t rem = abs & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // may carry into the exponent, up to infinity
    return static_cast<uint16_t>(sign | h);
  }
  // Subnormal half (or zero): count units of 2^-24.
  const uint32_t shift = 126 - e;
  if (e == 0 || shift > 24) return static_cast<uint16_t>(sign);
  const uint32_t m = (abs & 0x7fffffu) | 0x800000u;
  uint32_t q = m >> shift;
  const uint32_t rem = m & ((1u << shift) - 1u);
  const uint32_t half = 1u << (shift - 1);
  if (rem > half || (rem == half && (q & 1u))) ++q;
  return static_cast<uint16_t>(sign | q);
}

/// bfloat16 bits of `f`, round to nearest even; NaN -> 0x7fff as CUDA does.
inline uint16_t float_to_bfloat16_bits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof x);
  if ((x & 0x7fffffffu) > 0x7f800000u) return 0x7fffu;
  x += 0x7fffu + ((x >> 16) & 1u);
  return static_cast<uint16_t>(x >> 16);
}

inline float half_bits_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 0x1fu;
  const uint32_t m = h & 0x3ffu;
  uint32_t x;
  if (e == 0) {
    const float v = std::ldexp(static_cast<float>(m), -24);
    std::memcpy(&x, &v, sizeof x);
    x |= sign;
  } else if (e == 31) {
    x = sign | 0x7f800000u | (m << 13);
  } else {
    x = sign | ((e + 112) << 23) | (m << 13);
  }
  float f;
  std::memcpy(&f, &x, sizeof f);
  return f;
}

inline float bfloat16_bits_to_float(uint16_t b) {
  const uint32_t x = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &x, sizeof f);
  return f;
}

/// The reference: reads `src` (N*H*W*C bytes), writes `dst` (N*C*H*W elements
/// of spec.out_dtype; float16/bfloat16 as raw uint16 bits). `flips` holds one
/// byte per sample (non-zero: mirror left-right) or is null.
inline void convert_hwc_u8_to_chw_reference(const ConvertSpec& spec, const uint8_t* src, const uint8_t* flips,
                                            void* dst) {
  validate(spec);
  const int64_t N = spec.batch, H = spec.height, W = spec.width, C = spec.channels;
  for (int64_t n = 0; n < N; ++n) {
    const bool flip = flips != nullptr && flips[n] != 0;
    for (int64_t h = 0; h < H; ++h) {
      const uint8_t* row = src + ((n * H + h) * W) * C;
      for (int64_t w = 0; w < W; ++w) {
        const int64_t w_out = flip ? W - 1 - w : w;
        for (int64_t c = 0; c < C; ++c) {
          const float v = normalize_u8(row[w * C + c], spec.mean[c], spec.stddev[c]);
          const int64_t o = ((n * C + c) * H + h) * W + w_out;
          switch (spec.out_dtype) {
            case DType::kFloat32:
              static_cast<float*>(dst)[o] = v;
              break;
            case DType::kFloat16:
              static_cast<uint16_t*>(dst)[o] = float_to_half_bits(v);
              break;
            default:
              static_cast<uint16_t*>(dst)[o] = float_to_bfloat16_bits(v);
              break;
          }
        }
      }
    }
  }
}

}  // namespace ferry::cuda
