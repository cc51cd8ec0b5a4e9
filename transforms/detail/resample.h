#pragma once
// Internal: the antialiased separable resampler behind ImagePipeline.
//
// Filter weights follow Pillow's ImagingResample (bilinear "triangle" or
// bicubic filters whose support grows with the downscale factor), so a
// crop+resize here matches Image.resize(size, filter, box=...) to within
// rounding; nearest picks pixels exactly as Pillow's NEAREST does. The passes
// run vertical first (contiguous rows, auto-vectorized), then horizontal on one
// row of floats kept in L1; each finished row goes through an optional
// RowStage (colour augmentation) and then to a writer that flips, normalizes,
// converts and stores it in place.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/dtype.h"
#include "transforms/interpolation.h"

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
  /// kNearest gives one tap per output: Pillow's ImagingScaleAffine index.
  void compute(double in0, double in_len, int in_size, int out_size, Interpolation filter = Interpolation::kBilinear);
};

/// The source index of each output pixel along one axis for a nearest-neighbour
/// resize of the box [in0, in0+in_len) to `out_size`, computed as Pillow's
/// NEAREST resize does (its running sum of doubles included), clamped to
/// [0, in_size). Shared by images and masks so both pick the same pixels.
void nearest_indices(double in0, double in_len, int in_size, int out_size, std::vector<int>& out);

/// Where and how resample() stores its result.
struct OutputFormat {
  DType dtype = DType::kFloat32;  ///< kUInt8, kFloat32, kFloat16 or kBFloat16
  bool chw = true;                ///< planar CHW, else interleaved HWC
  int channels = 3;               ///< 1, 3 or 4 (a 1-channel source is replicated to 3; a missing alpha is 255)
  bool flip = false;              ///< mirror left-right
  bool clamp = false;             ///< clamp values to 0..255 before scale/bias (filters with negative lobes)
  float scale[4] = {1, 1, 1, 1};  ///< out = value * scale + bias (value in 0..255)
  float bias[4] = {0, 0, 0, 0};
};

/// Colour work on finished rows, between the horizontal pass and the store.
class RowStage {
 public:
  virtual ~RowStage() = default;
  /// Gets output row y: ax.out_size pixels of `channels` interleaved floats in
  /// 0..255 (before flip, scale and bias), to change in place. Returns true to
  /// have resample() store the row now, false when the stage keeps it and
  /// stores it later with store_row().
  virtual bool process(float* row, int channels, int y) = 0;
};

/// Resamples `src` (rows of `src_channels` interleaved bytes whose top-left pixel
/// sits at (x_origin, y_origin) of the axes' coordinates) to ax.out_size x
/// ay.out_size and writes it to `out`, each row through `stage` when one is
/// given. `scratch` is grow-only working memory.
void resample(const uint8_t* src, size_t stride, int src_channels, int x_origin, int y_origin, const AxisWeights& ax,
              const AxisWeights& ay, const OutputFormat& format, void* out, std::vector<float>& scratch,
              RowStage* stage = nullptr);

/// Stores row y of a width x height output the way resample() stores a row a
/// RowStage passed on: `row` holds width pixels of `src_channels` floats in
/// 0..255; flip, scale/bias, conversion and layout follow `format`.
void store_row(const float* row, int src_channels, const OutputFormat& format, int y, int width, int height, void* out);

/// IEEE binary16 / bfloat16 from float, round to nearest even.
uint16_t float_to_half(float f);
uint16_t float_to_bfloat16(float f);

}  // namespace ferry::transforms::detail
