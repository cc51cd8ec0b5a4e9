#pragma once
/// What every decoder hands the resampler: 8-bit interleaved pixels it owns
/// (valid until its next call), and where they sit in the (scaled) image.
#include <cstddef>
#include <cstdint>

namespace ferry::transforms {

/// Decoded pixels, owned by the decoder and valid until its next call.
struct DecodedImage {
  const uint8_t* pixels = nullptr;
  int x = 0, y = 0;           ///< origin of `pixels` in the scaled image (x may be left of the asked x)
  int width = 0, height = 0;  ///< covers at least the asked region
  int channels = 0;           ///< 1 (gray), 3 (RGB) or 4 (RGBA)
  size_t stride = 0;          ///< bytes per row
  int scaled_width = 0;       ///< size of the whole image at this scale
  int scaled_height = 0;
};

/// The pixel layouts a caller can ask a PNG or WebP decoder for.
enum class PixelFormat : uint8_t {
  kGray,  ///< one channel: gray sources as stored, colour as ITU-R 601 luma (Pillow's convert("L"))
  kRgb,   ///< three channels; alpha dropped (Pillow's convert("RGB")). Gray sources may come back as
          ///< one channel (DecodedImage::channels == 1), which the resampler expands late and cheaply
  kRgba,  ///< four channels; opaque sources get alpha 255
};

}  // namespace ferry::transforms
