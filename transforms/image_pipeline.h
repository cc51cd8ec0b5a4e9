#pragma once
/// One JPEG in, one transformed image out, written straight into the caller's
/// memory (its place in a batch slot). This is the whole per-sample job of a
/// worker for image datasets.
///
///   ImagePipeline p(PipelineSpec::named("train"));      // 3x224x224 float32, normalized
///   Rng rng = Rng::for_sample(seed, epoch, index);
///   p.run(bytes.data(), bytes.size(), rng, slot + i * p.output_bytes());
///
/// Named pipelines (PipelineSpec::named):
///   "train"     RandomResizedCrop(size, scale, ratio) + RandomHorizontalFlip(flip_p)
///               + Normalize(mean, std); float32 CHW
///   "val"       Resize(resize_size) + CenterCrop(size) + Normalize; float32 CHW
///   "train_u8"  as "train" without Normalize; uint8 HWC (the GPU normalizes)
///   "val_u8"    as "val" without Normalize; uint8 HWC
///   "decode"    the whole image resized to size x size, nothing random; uint8 HWC
///
/// How it is fast: the crop box is chosen from the header alone, then only the
/// rows and columns under it are decoded (jpeg_crop_scanline/jpeg_skip_scanlines),
/// at the smallest DCT scale n/8 whose scaled crop still covers `size`, among the
/// scales libjpeg-turbo has SIMD IDCTs for (1/8, 2/8, 4/8, 8/8; its plain-C 3/8..7/8
/// IDCTs are slower than a SIMD 8/8 decode; FERRY_DCT_SCALES=all in the environment
/// allows every n, for comparison). One antialiased resample (Pillow's bilinear)
/// goes from that region straight into `out`, with flip, normalization, dtype
/// conversion and layout fused into its last pass. Scratch memory is per thread
/// and reused. Figures: docs/performance/transforms.md.
///
/// Normalization applies to float outputs of "train" and "val" only:
/// out = (pixel / 255 - mean[c]) / std[c]. uint8 outputs are pixels 0..255.
/// With grayscale = true the output has one channel (mean[0], std[0]).
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/dtype.h"
#include "base/rng.h"

namespace ferry::transforms {

/// Memory order of an output image: interleaved HWC or planar CHW.
enum class Layout : uint8_t { kHWC, kCHW };

/// What a pipeline does; a plain value, checked by validate().
struct PipelineSpec {
  std::string name = "train";  ///< "train", "val", "train_u8", "val_u8" or "decode" (see above)
  int size = 224;              ///< output height and width, 1..8192
  int resize_size = 256;       ///< val: the shorter side before the center crop; >= size
  double scale_min = 0.08;     ///< train: crop area fraction range, 0 < min <= max <= 1
  double scale_max = 1.0;
  double ratio_min = 3.0 / 4;  ///< train: crop aspect ratio range, 0 < min <= max
  double ratio_max = 4.0 / 3;
  double flip_p = 0.5;                                ///< train: probability of a horizontal flip, 0..1
  std::array<float, 3> mean{0.485f, 0.456f, 0.406f};  ///< Normalize mean per channel (of 0..1 pixels)
  std::array<float, 3> std{0.229f, 0.224f, 0.225f};   ///< Normalize std per channel, > 0
  DType dtype = DType::kFloat32;                      ///< kUInt8, kFloat32, kFloat16 or kBFloat16
  Layout layout = Layout::kCHW;                       ///< output memory order
  bool grayscale = false;                             ///< one output channel (ITU-R 601 luma)
  bool exif_orientation = false;     ///< apply the EXIF Orientation tag (off, as in Pillow and torchvision)
  int64_t max_pixels = 178'956'970;  ///< larger images are BadSample, rejected before decoding (Pillow's limit)

  /// The spec of a named pipeline with output side `size` (val: resize_size =
  /// round(size * 256 / 224)). Throws InvalidOption listing the valid names.
  static PipelineSpec named(std::string_view name, int size = 224);

  /// Throws ferry::InvalidOption naming the first bad field and its valid range.
  void validate() const;
};

/// What happened while decoding one sample.
struct DecodeReport {
  int warnings = 0;       ///< libjpeg warnings that did not lose data (e.g. extraneous bytes)
  int dct_scale_num = 8;  ///< DCT scale used: num/8
};

class ImagePipeline {
 public:
  explicit ImagePipeline(PipelineSpec spec);  ///< validates
  const PipelineSpec& spec() const { return spec_; }
  /// {H, W, C} for kHWC, {C, H, W} for kCHW.
  std::vector<int64_t> output_shape() const;
  DType output_dtype() const { return spec_.dtype; }
  size_t output_bytes() const;

  /// Decodes `jpeg` and writes the transformed image into `out` (output_bytes()).
  /// Thread-safe (per-thread scratch). Throws ferry::BadSample on unusable input
  /// (no path in the message; the caller adds it). Draws from `rng` in
  /// torchvision's order: crop parameters, then the flip.
  void run(const uint8_t* jpeg, size_t size, Rng& rng, void* out, DecodeReport* report = nullptr) const;

 private:
  enum class Mode : uint8_t { kTrain, kVal, kDecode };
  PipelineSpec spec_;
  Mode mode_;
  bool normalize_;
};

}  // namespace ferry::transforms
