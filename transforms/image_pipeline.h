#pragma once
/// One encoded image in (JPEG, PNG or WebP, told apart by their magic bytes),
/// one transformed image out, written straight into the caller's memory (its
/// place in a batch slot). This is the whole per-sample job of a worker for
/// image datasets.
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
/// Every pipeline takes ColorJitter (color_jitter) and RandomGrayscale
/// (grayscale_p), applied after the geometry as in torchvision's recipes, and
/// a resize filter (interpolation: bilinear, bicubic or nearest).
///
/// Random draws, all from the sample's `rng` (so a sample's output depends on
/// (seed, epoch, index) only), in this order and only where they apply:
///   1. train: RandomResizedCrop, 4 draws per attempt (up to 10 attempts);
///   2. train: RandomHorizontalFlip, 1 draw;
///   3. ColorJitter, when an operation is on: 3 draws for the order of the four
///      operations, then 1 per operation that is on (see draw_color());
///   4. RandomGrayscale, when grayscale_p > 0: 1 draw.
/// A spec without colour augmentation therefore draws exactly what it drew
/// before colour augmentation existed: its bytes do not change.
///
/// How it is fast: the crop box is chosen from the header alone. For a JPEG
/// only the rows and columns under it are decoded (jpeg_crop_scanline/
/// jpeg_skip_scanlines), at the smallest DCT scale n/8 whose scaled crop still
/// covers `size`, among the scales libjpeg-turbo has SIMD IDCTs for (1/8, 2/8,
/// 4/8, 8/8; its plain-C 3/8..7/8 IDCTs are slower than a SIMD 8/8 decode;
/// FERRY_DCT_SCALES=all in the environment allows every n, for comparison;
/// nearest always decodes at 8/8, so it picks the file's own pixels). PNG and
/// WebP have no region decode: the whole image is decoded once into per-thread
/// scratch. From there one antialiased resample (Pillow's filters) goes from
/// the region straight into `out`, with colour augmentation, flip,
/// normalization, dtype conversion and layout fused into its last pass (a
/// contrast needs the image's mean, so with one the rows are finished in a
/// second pass over a float copy). Scratch memory is per thread and reused.
/// Figures: docs/performance/transforms.md.
///
/// Normalization applies to float outputs of "train" and "val" only:
/// out = (pixel / 255 - mean[c]) / std[c]; an alpha channel is alpha / 255.
/// uint8 outputs are pixels 0..255. With grayscale = true the output has one
/// channel (mean[0], std[0]); with keep_alpha = true four (RGBA; opaque
/// sources get 255).
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/dtype.h"
#include "base/rng.h"
#include "transforms/color_jitter.h"
#include "transforms/crop.h"
#include "transforms/image_format.h"
#include "transforms/interpolation.h"

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
  double flip_p = 0.5;                                     ///< train: probability of a horizontal flip, 0..1
  ColorJitter color_jitter;                                ///< ColorJitter factor ranges; off by default
  double grayscale_p = 0;                                  ///< RandomGrayscale probability, 0..1; 0 = off
  Interpolation interpolation = Interpolation::kBilinear;  ///< resize filter
  std::array<float, 3> mean{0.485f, 0.456f, 0.406f};       ///< Normalize mean per channel (of 0..1 pixels)
  std::array<float, 3> std{0.229f, 0.224f, 0.225f};        ///< Normalize std per channel, > 0
  DType dtype = DType::kFloat32;                           ///< kUInt8, kFloat32, kFloat16 or kBFloat16
  Layout layout = Layout::kCHW;                            ///< output memory order
  bool grayscale = false;                                  ///< one output channel (ITU-R 601 luma)
  bool keep_alpha = false;           ///< a 4th output channel with the image's alpha (excludes grayscale)
  bool exif_orientation = false;     ///< apply the EXIF Orientation tag of JPEGs (off, as in Pillow and torchvision)
  int64_t max_pixels = 178'956'970;  ///< larger images are BadSample, rejected before decoding (Pillow's limit)

  /// The spec of a named pipeline with output side `size` (val: resize_size =
  /// round(size * 256 / 224)). Throws InvalidOption listing the valid names.
  static PipelineSpec named(std::string_view name, int size = 224);

  /// Output channels: 1 (grayscale), 4 (keep_alpha) or 3.
  int channels() const { return grayscale ? 1 : keep_alpha ? 4 : 3; }

  /// Throws ferry::InvalidOption naming the first bad field and its valid range.
  void validate() const;
};

/// What happened while decoding one sample, and the geometry and colour
/// choices made for it (so a mask can follow the same box and flip, and a
/// test can replay the colour operations).
struct DecodeReport {
  ImageFormat format = ImageFormat::kUnknown;  ///< what the bytes were
  int width = 0, height = 0;                   ///< the source size (after EXIF orientation)
  CropBox box;                                 ///< the source region resampled to the output
  bool flip = false;                           ///< mirrored left-right
  ColorDraw color;                             ///< the colour augmentation applied
  int warnings = 0;                            ///< libjpeg warnings that did not lose data (e.g. extraneous bytes)
  int dct_scale_num = 8;                       ///< JPEG DCT scale used: num/8
};

class ImagePipeline {
 public:
  explicit ImagePipeline(PipelineSpec spec);  ///< validates
  const PipelineSpec& spec() const { return spec_; }
  /// {H, W, C} for kHWC, {C, H, W} for kCHW.
  std::vector<int64_t> output_shape() const;
  DType output_dtype() const { return spec_.dtype; }
  size_t output_bytes() const;

  /// Decodes `data` (JPEG, PNG or WebP, by its magic bytes) and writes the
  /// transformed image into `out` (output_bytes()). Thread-safe (per-thread
  /// scratch). Throws ferry::BadSample on unusable input (no path in the
  /// message; the caller adds it). Draws from `rng` in the order above.
  void run(const uint8_t* data, size_t size, Rng& rng, void* out, DecodeReport* report = nullptr) const;

 private:
  enum class Mode : uint8_t { kTrain, kVal, kDecode };
  struct Plan;
  Plan plan(int width, int height, Rng& rng) const;
  void run_jpeg(const uint8_t* data, size_t size, Rng& rng, void* out, DecodeReport& report) const;
  template <class Decoder>
  void run_whole(Decoder& decoder, const uint8_t* data, size_t size, Rng& rng, void* out, DecodeReport& report) const;

  PipelineSpec spec_;
  Mode mode_;
  bool normalize_;
};

}  // namespace ferry::transforms
