#pragma once
/// WebP decoding with libwebp: lossy (VP8) and lossless (VP8L), with or without
/// alpha, and the first frame of an animation (libwebpdemux), with the pixel
/// limit checked on the header before any allocation and every libwebp error
/// turned into ferry::BadSample.
///
///   WebpDecoder dec;                                  // one per thread; reusable
///   WebpHeader h = dec.read_header(bytes, size, max_pixels);
///   DecodedImage img = dec.decode(PixelFormat::kRgb);
///
/// Pixels are what Pillow gives: libwebp's default (fancy) upsampling, alpha
/// dropped for kRgb, ITU-R 601 luma for kGray (Pillow's convert("L")). Still
/// images decode straight into the decoder's grow-only scratch; an
/// animation's first frame is composed on its canvas by libwebp's animation
/// decoder (the area the frame does not cover is transparent black), as
/// Pillow does.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "transforms/decoded_image.h"

namespace ferry::transforms {

struct WebpHeader {
  int width = 0;  ///< the canvas size for an animation
  int height = 0;
  bool alpha = false;
  bool animated = false;
  bool lossless = false;  ///< VP8L (false for lossy and for animations)
};

class WebpDecoder {
 public:
  WebpDecoder();
  ~WebpDecoder();
  WebpDecoder(const WebpDecoder&) = delete;
  WebpDecoder& operator=(const WebpDecoder&) = delete;

  /// Parses the RIFF/VP8X headers of `data` (which must stay alive until
  /// decode returns). Throws BadSample for non-WebP or corrupt headers and for
  /// width*height over max_pixels.
  WebpHeader read_header(const uint8_t* data, size_t size, int64_t max_pixels);

  /// Decodes the whole image (first frame) whose header was read last.
  /// Throws BadSample on corrupt or truncated data.
  DecodedImage decode(PixelFormat format);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace ferry::transforms
