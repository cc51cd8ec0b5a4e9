#include "transforms/detail/resample.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <type_traits>

namespace ferry::transforms::detail {
namespace {

// Pillow's bilinear filter.
inline double triangle(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

// Pillow's bicubic filter (Keys, a = -0.5).
inline double bicubic(double x) {
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

// One output row's vertical pass: tmp[i] = sum_k w[k] * row_k[i] over n bytes.
// Written as plain loops over contiguous memory so the compiler vectorizes them.
[[gnu::always_inline]] inline void vertical_pass_body(const uint8_t* r0, size_t stride, const float* w, int taps,
                                                      size_t n, float* __restrict tmp) {
  {
    const float w0 = w[0];
    for (size_t i = 0; i < n; ++i) tmp[i] = w0 * static_cast<float>(r0[i]);
  }
  int k = 1;
  for (; k + 1 < taps; k += 2) {
    const uint8_t* __restrict a = r0 + static_cast<size_t>(k) * stride;
    const uint8_t* __restrict b = a + stride;
    const float wa = w[k], wb = w[k + 1];
    for (size_t i = 0; i < n; ++i) tmp[i] += wa * static_cast<float>(a[i]) + wb * static_cast<float>(b[i]);
  }
  if (k < taps) {
    const uint8_t* __restrict a = r0 + static_cast<size_t>(k) * stride;
    const float wa = w[k];
    for (size_t i = 0; i < n; ++i) tmp[i] += wa * static_cast<float>(a[i]);
  }
}

void vertical_pass_baseline(const uint8_t* r0, size_t stride, const float* w, int taps, size_t n, float* tmp) {
  vertical_pass_body(r0, stride, w, taps, n, tmp);
}

using VerticalPass = void (*)(const uint8_t*, size_t, const float*, int, size_t, float*);

#if defined(__x86_64__)
// The same loops compiled for AVX2 and picked at run time. (Not target_clones:
// its ifunc resolver runs before ThreadSanitizer's runtime is up and crashes.)
[[gnu::target("avx2")]] void vertical_pass_avx2(const uint8_t* r0, size_t stride, const float* w, int taps, size_t n,
                                                float* tmp) {
  vertical_pass_body(r0, stride, w, taps, n, tmp);
}

VerticalPass pick_vertical() {
  static const VerticalPass pass = __builtin_cpu_supports("avx2") ? vertical_pass_avx2 : vertical_pass_baseline;
  return pass;
}
#else
VerticalPass pick_vertical() { return vertical_pass_baseline; }
#endif

typedef float v4f __attribute__((vector_size(16)));

// One output row's horizontal pass for interleaved RGB or RGBA, with the
// normalization (value * scale + bias) applied: one 4-lane vector per pixel,
// whose 4th lane for RGB (the next pixel's red) is ignored. kTaps is the
// largest tap count of the axis (0: any); shorter kernels are zero-padded.
// Reads up to kTaps pixels + 1 float past a kernel's first tap, and writes 1
// float past the row for RGB: the caller pads.
template <int kTaps, int kChannels>
void horizontal_pass_color(const float* tmp, const AxisWeights& ax, v4f scale, v4f bias, float* __restrict row) {
  const int taps = kTaps > 0 ? kTaps : ax.max_count;
  const size_t stride = static_cast<size_t>(ax.max_taps);
  for (int x = 0; x < ax.out_size; ++x) {
    const float* p = tmp + static_cast<size_t>(ax.first[static_cast<size_t>(x)] - ax.lo) * kChannels;
    const float* w = &ax.weights[static_cast<size_t>(x) * stride];
    v4f acc = {0, 0, 0, 0};
    for (int k = 0; k < taps; ++k) {
      v4f v;
      std::memcpy(&v, p + kChannels * k, sizeof v);
      acc += v * w[k];
    }
    acc = acc * scale + bias;
    std::memcpy(row + kChannels * x, &acc, sizeof acc);
  }
}

using HorizontalPass = void (*)(const float*, const AxisWeights&, v4f, v4f, float*);

template <int kChannels>
HorizontalPass pick_horizontal(int max_count) {
  switch (max_count) {
    case 1:
      return horizontal_pass_color<1, kChannels>;
    case 2:
      return horizontal_pass_color<2, kChannels>;
    case 3:
      return horizontal_pass_color<3, kChannels>;
    case 4:
      return horizontal_pass_color<4, kChannels>;
    case 5:
      return horizontal_pass_color<5, kChannels>;
    case 6:
      return horizontal_pass_color<6, kChannels>;
    case 7:
      return horizontal_pass_color<7, kChannels>;
    case 8:
      return horizontal_pass_color<8, kChannels>;
    default:
      return horizontal_pass_color<0, kChannels>;
  }
}

void horizontal_pass_gray(const float* tmp, const AxisWeights& ax, float* __restrict row) {
  for (int x = 0; x < ax.out_size; ++x) {
    const float* p = tmp + (ax.first[x] - ax.lo);
    const float* w = &ax.weights[static_cast<size_t>(x) * static_cast<size_t>(ax.max_taps)];
    float acc = 0;
    for (int k = 0; k < ax.count[x]; ++k) acc += p[k] * w[k];
    row[x] = acc;
  }
}

template <typename T>
inline T convert(float v);
template <>
inline uint8_t convert<uint8_t>(float v) {
  // The triangle filter's weights are positive, so v is within [0, 255] up to
  // rounding: converting first and clamping the int keeps this branch-free.
  const int i = static_cast<int>(v + 0.5f);
  return static_cast<uint8_t>(i < 0 ? 0 : i > 255 ? 255 : i);
}
template <>
inline float convert<float>(float v) {
  return v;
}

struct Half {
  uint16_t bits;
};
struct BFloat16 {
  uint16_t bits;
};
template <>
inline Half convert<Half>(float v) {
  return {float_to_half(v)};
}
template <>
inline BFloat16 convert<BFloat16>(float v) {
  return {float_to_bfloat16(v)};
}

// Stores output row y: flip, scale+bias (normalize), convert, and lay out.
// `normalized`: the row's values already had scale and bias applied (the
// colour horizontal pass does that when nothing comes between it and here).
template <typename T, bool kChw>
void write_row(const float* row, int src_channels, bool normalized, const OutputFormat& f, int y, int width, int height,
               void* out) {
  T* o = static_cast<T*>(out);
  const size_t w = static_cast<size_t>(width), plane = w * static_cast<size_t>(height);
  const int c_out = f.channels;
  if (src_channels == 3 && c_out == 3 && normalized) {  // the common case, in one pass
    if (!kChw && !f.flip) {                             // same order as the row: one vectorizable loop
      T* d = o + static_cast<size_t>(y) * w * 3;
      for (size_t i = 0; i < 3 * w; ++i) d[i] = convert<T>(row[i]);
      return;
    }
    for (size_t x = 0; x < w; ++x) {
      const size_t dx = f.flip ? w - 1 - x : x;
      const float* v = row + 3 * x;
      if constexpr (kChw) {
        T* d = o + static_cast<size_t>(y) * w + dx;
        d[0] = convert<T>(v[0]);
        d[plane] = convert<T>(v[1]);
        d[2 * plane] = convert<T>(v[2]);
      } else {
        T* d = o + (static_cast<size_t>(y) * w + dx) * 3;
        d[0] = convert<T>(v[0]);
        d[1] = convert<T>(v[1]);
        d[2] = convert<T>(v[2]);
      }
    }
    return;
  }
  const size_t step = static_cast<size_t>(src_channels);
  for (int c = 0; c < c_out; ++c) {
    T* dst;
    size_t dstep;
    if constexpr (kChw) {
      dst = o + static_cast<size_t>(c) * plane + static_cast<size_t>(y) * w;
      dstep = 1;
    } else {
      dst = o + static_cast<size_t>(y) * w * static_cast<size_t>(c_out) + static_cast<size_t>(c);
      dstep = static_cast<size_t>(c_out);
    }
    if (c == 3 && src_channels < 4) {  // an opaque source's alpha
      const T opaque = convert<T>(255.0f * f.scale[3] + f.bias[3]);
      for (size_t x = 0; x < w; ++x) dst[x * dstep] = opaque;
      continue;
    }
    // A 1-channel row feeds every colour channel; rows from the colour pass arrive normalized.
    const bool from_gray = src_channels == 1;
    const float s = normalized && !from_gray ? 1.0f : f.scale[c], b = normalized && !from_gray ? 0.0f : f.bias[c];
    const float* src = row + (from_gray ? 0 : c);
    const size_t sstep = from_gray ? 1 : step;
    if (f.flip) {
      for (size_t x = 0; x < w; ++x) dst[(w - 1 - x) * dstep] = convert<T>(src[x * sstep] * s + b);
    } else {
      for (size_t x = 0; x < w; ++x) dst[x * dstep] = convert<T>(src[x * sstep] * s + b);
    }
  }
}

using RowWriter = void (*)(const float*, int, bool, const OutputFormat&, int, int, int, void*);

template <bool kChw>
RowWriter pick_writer(DType t) {
  switch (t) {
    case DType::kUInt8:
      return write_row<uint8_t, kChw>;
    case DType::kFloat16:
      return write_row<Half, kChw>;
    case DType::kBFloat16:
      return write_row<BFloat16, kChw>;
    default:
      return write_row<float, kChw>;
  }
}

}  // namespace

void nearest_indices(double in0, double in_len, int in_size, int out_size, std::vector<int>& out) {
  // Pillow: a = (x1 - x0) / out from the box corners, then a running sum from x0 + a/2.
  const double scale = ((in0 + in_len) - in0) / out_size;
  double xo = in0 + scale * 0.5;
  out.resize(static_cast<size_t>(out_size));
  for (int i = 0; i < out_size; ++i) {
    const int index = xo < 0.0 ? 0 : static_cast<int>(xo);
    out[static_cast<size_t>(i)] = std::clamp(index, 0, in_size - 1);
    xo += scale;
  }
}

void AxisWeights::compute(double in0, double in_len, int in_size, int out, Interpolation filter) {
  out_size = out;
  first.resize(static_cast<size_t>(out));
  count.resize(static_cast<size_t>(out));
  if (filter == Interpolation::kNearest) {
    nearest_indices(in0, in_len, in_size, out, first);
    max_taps = max_count = 1;
    count.assign(static_cast<size_t>(out), 1);
    weights.assign(static_cast<size_t>(out), 1.0f);
    lo = *std::min_element(first.begin(), first.end());
    hi = *std::max_element(first.begin(), first.end()) + 1;
    return;
  }
  const auto kernel = filter == Interpolation::kBicubic ? bicubic : triangle;
  const double filter_support = filter == Interpolation::kBicubic ? 2.0 : 1.0;
  const double scale = in_len / out;
  const double filterscale = std::max(scale, 1.0);
  const double support = filter_support * filterscale;
  const double ss = 1.0 / filterscale;
  max_taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  weights.assign(static_cast<size_t>(out) * static_cast<size_t>(max_taps), 0.0f);
  lo = in_size;
  hi = 0;
  max_count = 0;
  for (int i = 0; i < out; ++i) {
    const double center = in0 + (i + 0.5) * scale;
    // Same truncations as Pillow's precompute_coeffs.
    const int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
    const int xmax = std::min(static_cast<int>(center + support + 0.5), in_size);
    int a = xmin, b = xmax;
    double total = 0;
    for (int x = xmin; x < xmax; ++x) total += kernel((x - center + 0.5) * ss);
    while (a < b && kernel((a - center + 0.5) * ss) == 0.0) ++a;
    while (b > a && kernel((b - 1 - center + 0.5) * ss) == 0.0) --b;
    float* w = &weights[static_cast<size_t>(i) * static_cast<size_t>(max_taps)];
    if (a >= b || total == 0.0) {  // degenerate box: take the nearest pixel
      a = std::clamp(static_cast<int>(center), 0, in_size - 1);
      b = a + 1;
      w[0] = 1.0f;
    } else {
      for (int x = a; x < b; ++x) w[x - a] = static_cast<float>(kernel((x - center + 0.5) * ss) / total);
    }
    first[static_cast<size_t>(i)] = a;
    count[static_cast<size_t>(i)] = b - a;
    lo = std::min(lo, a);
    hi = std::max(hi, b);
    max_count = std::max(max_count, b - a);
  }
}

void resample(const uint8_t* src, size_t stride, int src_channels, int x_origin, int y_origin, const AxisWeights& ax,
              const AxisWeights& ay, const OutputFormat& format, void* out, std::vector<float>& scratch,
              RowStage* stage) {
  const size_t c = static_cast<size_t>(src_channels);
  const size_t n = static_cast<size_t>(ax.hi - ax.lo) * c;
  const size_t row_floats = static_cast<size_t>(ax.out_size) * c + 4;
  // Zero padding behind the vertical pass's output: fixed-length kernels read
  // up to max_taps pixels (times zero weights) plus one lane past their first tap.
  const size_t pad = static_cast<size_t>(ax.max_taps) * c + 4;
  if (scratch.size() < n + pad + row_floats) scratch.resize(n + pad + row_floats);
  float* tmp = scratch.data();
  float* row = tmp + n + pad;
  std::fill(tmp + n, tmp + n + pad, 0.0f);
  const HorizontalPass horizontal =
      src_channels == 4 ? pick_horizontal<4>(ax.max_count) : pick_horizontal<3>(ax.max_count);
  const VerticalPass vertical = pick_vertical();
  // Normalization rides on the colour pass unless a stage or a clamp must see 0..255 values first.
  const bool normalized = src_channels >= 3 && stage == nullptr && !format.clamp;
  const v4f scale =
      normalized ? v4f{format.scale[0], format.scale[1], format.scale[2], format.scale[3]} : v4f{1, 1, 1, 1};
  const v4f bias = normalized ? v4f{format.bias[0], format.bias[1], format.bias[2], format.bias[3]} : v4f{0, 0, 0, 0};
  const uint8_t* base = src + static_cast<size_t>(ax.lo - x_origin) * c;
  const RowWriter writer = format.chw ? pick_writer<true>(format.dtype) : pick_writer<false>(format.dtype);
  const size_t row_values = static_cast<size_t>(ax.out_size) * c;
  for (int y = 0; y < ay.out_size; ++y) {
    const uint8_t* r0 = base + static_cast<size_t>(ay.first[static_cast<size_t>(y)] - y_origin) * stride;
    vertical(r0, stride, &ay.weights[static_cast<size_t>(y) * static_cast<size_t>(ay.max_taps)],
             ay.count[static_cast<size_t>(y)], n, tmp);
    if (src_channels >= 3) {
      horizontal(tmp, ax, scale, bias, row);
    } else {
      horizontal_pass_gray(tmp, ax, row);
    }
    if (format.clamp)
      for (size_t i = 0; i < row_values; ++i) row[i] = std::min(std::max(row[i], 0.0f), 255.0f);
    if (stage != nullptr && !stage->process(row, src_channels, y)) continue;
    writer(row, src_channels, normalized, format, y, ax.out_size, ay.out_size, out);
  }
}

void store_row(const float* row, int src_channels, const OutputFormat& format, int y, int width, int height,
               void* out) {
  const RowWriter writer = format.chw ? pick_writer<true>(format.dtype) : pick_writer<false>(format.dtype);
  writer(row, src_channels, false, format, y, width, height, out);
}

uint16_t float_to_half(float f) {
  // Round to nearest even, after F. Giesen's float_to_half_fast3_rtne.
  uint32_t u = std::bit_cast<uint32_t>(f);
  const uint32_t sign = u & 0x80000000u;
  u ^= sign;
  uint16_t o;
  if (u >= 0x47800000u) {  // overflow, Inf or NaN
    o = u > 0x7f800000u ? 0x7e00 : 0x7c00;
  } else if (u < (113u << 23)) {  // subnormal or zero: let float addition round
    const float magic = std::bit_cast<float>(126u << 23);
    o = static_cast<uint16_t>(std::bit_cast<uint32_t>(std::bit_cast<float>(u) + magic) - (126u << 23));
  } else {
    const uint32_t mant_odd = (u >> 13) & 1u;
    u += (static_cast<uint32_t>(15 - 127) << 23) + 0xfffu + mant_odd;
    o = static_cast<uint16_t>(u >> 13);
  }
  return static_cast<uint16_t>(o | (sign >> 16));
}

uint16_t float_to_bfloat16(float f) {
  const uint32_t u = std::bit_cast<uint32_t>(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);  // quiet NaN
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

}  // namespace ferry::transforms::detail
