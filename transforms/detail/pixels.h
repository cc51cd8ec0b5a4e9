#pragma once
// Internal: per-pixel conversions the decoders share, each defined once.
#include <cstdint>

namespace ferry::transforms::detail {

/// ITU-R 601-2 luma of 8-bit RGB, rounded exactly as Pillow's convert("L") (L24).
inline uint8_t luma601(int r, int g, int b) {
  return static_cast<uint8_t>((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);
}

/// A sample of `depth` bits (1..8) scaled to 0..255, as PNG's sample-depth
/// scaling and Pillow's L;1/L;2/L;4 unpackers do (v * 255 / (2^depth - 1)).
inline uint8_t scale_to_8bit(unsigned v, int depth) {
  return static_cast<uint8_t>(depth == 8 ? v : v * 255u / ((1u << depth) - 1u));
}

}  // namespace ferry::transforms::detail
