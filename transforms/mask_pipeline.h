#pragma once
/// The label map (segmentation mask) that goes with an image: the same crop
/// box and flip as the image's ImagePipeline::run chose (DecodeReport), resized
/// by nearest neighbour only, never normalized or colour-augmented, and written
/// as class ids.
///
///   ImagePipeline image(spec);
///   MaskPipeline mask(spec, DType::kInt64);
///   DecodeReport r;
///   image.run(img_bytes, img_size, rng, image_out, &r);
///   mask.run(mask_bytes, mask_size, r, mask_out);     // {size, size} class ids
///
/// Masks are PNGs whose stored values are the class ids: palette images give
/// their palette indices (Pascal VOC's masks), grayscale images their gray
/// samples (1 to 16 bits, unscaled; 255 is often "void"). A grayscale JPEG is
/// read as its gray values. Pixels are picked exactly as Pillow's
/// Image.resize(size, Image.NEAREST, box=...) picks them, from the same box as
/// the image, so image and mask stay aligned pixel for pixel.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/dtype.h"
#include "transforms/image_pipeline.h"

namespace ferry::transforms {

class MaskPipeline {
 public:
  /// Masks for images of `image_spec` (its size and max_pixels), as `dtype`
  /// (kUInt8 or kInt64; InvalidOption otherwise).
  MaskPipeline(const PipelineSpec& image_spec, DType dtype);

  /// {size, size}.
  std::vector<int64_t> output_shape() const;
  DType output_dtype() const { return dtype_; }
  size_t output_bytes() const;

  /// Decodes `data` and writes image.box of it, resized to size x size and
  /// mirrored when image.flip, into `out`. Thread-safe. Throws BadSample for an
  /// undecodable or colour mask, a mask whose size is not the image's
  /// (image.width x image.height), and a class id over 255 for kUInt8.
  void run(const uint8_t* data, size_t size, const DecodeReport& image, void* out) const;

 private:
  int size_;
  int64_t max_pixels_;
  DType dtype_;
};

}  // namespace ferry::transforms
