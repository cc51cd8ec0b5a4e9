#pragma once
// Internal: the antialiased separable resampler behind ImagePipeline.
//
// Filter weights follow Pillow's ImagingResample with the bilinear ("triangle")
// filter, whose support grows with the downscale factor, so a crop+resize here
// matches Image.resize(size, Image.BILINEAR, box=...) to within rounding. The
// passes run vertical first (contiguous rows, auto-vectorized), then horizontal
// on one row of floats kept in L1, and the horizontal pass hands each finished
// row to a writer that flips, normalizes, converts and stores it in place.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/dtype.h"

namespace ferry::transforms::detail {

/// Filter taps along one axis: output i reads input first[i] .. first[i]+count[i]-1.
struct AxisWeights {
  int out_size = 0;
  int max_taps = 0;   ///< row stride of `weights`
  int max_count = 0;  ///< the largest count[i]
  std::vector<int> first;
  std::vector<int> count;
  std::vector<float> weights;  ///< out_size x max_taps, zero-padded
  int lo = 0, hi = 0;          ///< input range [lo, hi) touched by any tap

  /// Pillow's precompute_coeffs for the box [in0, in0+in_len) of an axis of
  /// `in_size` pixels resampled to `out_size`; taps are clipped to [0, in_size).
  void compute(double in0, double in_len, int in_size, int out_size);
};

/// Where and how resample() stores its result.
struct OutputFormat {
  DType dtype = DType::kFloat32;  ///< kUInt8, kFloat32, kFloat16 or kBFloat16
  bool chw = true;                ///< planar CHW, else interleaved HWC
  int channels = 3;               ///< 1 or 3 (a 1-channel source is replicated to 3)
  bool flip = false;              ///< mirror left-right
  float scale[3] = {1, 1, 1};     ///< out = value * scale + bias (value in 0..255), float dtypes only
  float bias[3] = {0, 0, 0};
};

/// Resamples `src` (rows of `src_channels` interleaved bytes whose top-left pixel
/// sits at (x_origin, y_origin) of the axes' coordinates) to ax.out_size x
/// ay.out_size and writes it to `out`. `scratch` is grow-only working memory.
void resample(const uint8_t* src, size_t stride, int src_channels, int x_origin, int y_origin, const AxisWeights& ax,
              const AxisWeights& ay, const OutputFormat& format, void* out, std::vector<float>& scratch);

/// IEEE binary16 / bfloat16 from float, round to nearest even.
uint16_t float_to_half(float f);
uint16_t float_to_bfloat16(float f);

}  // namespace ferry::transforms::detail
