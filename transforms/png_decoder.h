#pragma once
/// PNG decoding with libspng, built for a data loader: the pixel limit and a
/// size sanity check happen before any pixel memory is allocated, every libspng
/// error becomes ferry::BadSample, and pixels land in grow-only scratch.
///
///   PngDecoder dec;                                   // one per thread; reusable
///   PngHeader h = dec.read_header(bytes, size, max_pixels);
///   DecodedImage img = dec.decode(PixelFormat::kRgb); // the whole image, 8 bits per sample
///
/// Every PNG colour type and depth decodes, interlaced (Adam7) or not, and comes
/// out as Pillow gives it: 1/2/4-bit gray scaled to 0..255, 16-bit samples cut
/// to their high byte (Pillow's RGB;16B, LA;16B, RGBA;16B unpackers), palettes
/// looked up (an index past the palette is black), alpha dropped for kRgb and
/// kGray, gray as ITU-R 601 luma. One difference: Pillow opens 16-bit gray as
/// mode "I" and its convert("RGB") clips every value above 255 (almost all of
/// them) to white; here 16-bit gray takes the high byte like every other
/// 16-bit sample. For kRgba, a tRNS chunk gives palette entries their alpha and
/// makes the colour key of a gray or RGB image transparent (convert("RGBA")).
/// Gamma, colour profiles and the background colour are ignored, as by Pillow
/// and torchvision.
///
/// Label maps (segmentation masks) decode with decode_labels(): the stored
/// sample values themselves, palette indices for palette images.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "transforms/decoded_image.h"

namespace ferry::transforms {

struct PngHeader {
  int width = 0;
  int height = 0;
  int bit_depth = 0;   ///< 1, 2, 4, 8 or 16
  int color_type = 0;  ///< PNG colour type: 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA
  bool interlaced = false;
};

/// Sample values of a one-channel image, 16 bits each (valid until the decoder's next call).
struct LabelImage {
  const uint16_t* values = nullptr;
  int width = 0, height = 0;
};

class PngDecoder {
 public:
  PngDecoder();
  ~PngDecoder();
  PngDecoder(const PngDecoder&) = delete;
  PngDecoder& operator=(const PngDecoder&) = delete;

  /// Parses the signature and IHDR of `data` (which must stay alive until
  /// decode returns). Throws BadSample for non-PNG or corrupt input, for
  /// width*height over max_pixels, and for a file too small to hold the image
  /// its header claims even at deflate's best ratio (a truncated file or a
  /// decompression bomb), all before allocating pixel memory.
  PngHeader read_header(const uint8_t* data, size_t size, int64_t max_pixels);

  /// Decodes the whole image whose header was read last (see the class notes
  /// for what `format` gives). Throws BadSample on corrupt or truncated data.
  DecodedImage decode(PixelFormat format);

  /// Decodes a palette or grayscale image's stored values (palette indices;
  /// gray samples unscaled, 1 to 16 bits; gray+alpha keeps the gray sample).
  /// Throws BadSample for RGB and RGBA images.
  LabelImage decode_labels();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace ferry::transforms
