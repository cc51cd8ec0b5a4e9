#pragma once
/// Synthetic WebP files (libwebp's encoders): lossy, lossless, with or without
/// alpha, and animations whose frames differ, for tests, fuzz seeds and mixed
/// sample folders.
///
///   auto webp = ferry::sample::make_webp({.width = 320, .height = 240, .kind = WebpKind::kLossy});
#include <cstdint>
#include <vector>

namespace ferry::sample {

enum class WebpKind : uint8_t {
  kLossy,     ///< VP8 (with an ALPH chunk when alpha is asked)
  kLossless,  ///< VP8L
  kAnimated,  ///< ANIM/ANMF frames (lossy), each a different picture
};

struct WebpOptions {
  int width = 64;   ///< 1..16383
  int height = 48;  ///< 1..16383
  WebpKind kind = WebpKind::kLossy;
  bool alpha = false;  ///< a horizontal alpha gradient
  int quality = 80;    ///< lossy quality 0..100
  int frames = 3;      ///< kAnimated: 2..16
  uint64_t seed = 0;   ///< picks the picture (render_rgb)
};

/// Encodes a synthetic picture. Throws std::invalid_argument for bad options
/// and std::runtime_error when libwebp fails.
std::vector<uint8_t> make_webp(const WebpOptions& options);

/// Encodes interleaved `pixels` (3 or 4 channels) as lossy (quality) or lossless WebP.
std::vector<uint8_t> encode_webp(const uint8_t* pixels, int width, int height, int channels, bool lossless,
                                 int quality);

}  // namespace ferry::sample
