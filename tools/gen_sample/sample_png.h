#pragma once
/// Synthetic PNGs of every kind the decoders must handle, written by a small
/// PNG encoder of our own (zlib for the compression), so tests control every
/// byte: colour types, bit depths, palettes, tRNS, Adam7 interlacing, every
/// row filter, and deliberately broken files.
///
///   auto png = ferry::sample::make_png({.width = 64, .height = 48, .color = PngColor::kPalette, .bit_depth = 4});
///   auto mask = ferry::sample::make_mask_png({.width = 64, .height = 48, .classes = 21});
///
/// Everything is deterministic in `seed`.
#include <array>
#include <cstdint>
#include <optional>
#include <vector>

namespace ferry::sample {

/// PNG colour types (the values of the IHDR field).
enum class PngColor : uint8_t { kGray = 0, kRgb = 2, kPalette = 3, kGrayAlpha = 4, kRgba = 6 };

/// Samples per pixel of a colour type (a palette index counts as one).
int png_channels(PngColor color);

/// An image as raw PNG samples, before filtering and compression.
struct PngImage {
  int width = 0, height = 0;
  PngColor color = PngColor::kRgb;
  int bit_depth = 8;                                 ///< 1, 2, 4 (gray, palette), 8, 16 (not palette)
  std::vector<uint16_t> samples;                     ///< height x width x png_channels(color), row-major
  std::vector<std::array<uint8_t, 3>> palette;       ///< PLTE entries (palette images)
  std::vector<uint8_t> palette_alpha;                ///< tRNS for palette images (may be shorter than palette)
  std::optional<std::array<uint16_t, 3>> color_key;  ///< tRNS for gray ([0]) and RGB images
  bool interlaced = false;                           ///< Adam7
  int compression_level = 6;                         ///< zlib level 0..9
};

/// Encodes `image`; rows use every filter type in turn (None, Sub, Up, Average,
/// Paeth), so a decoder's unfiltering is exercised. Throws std::invalid_argument
/// for an inconsistent image (bad depth for the colour type, sample out of range).
std::vector<uint8_t> encode_png(const PngImage& image);

struct PngOptions {
  int width = 64;   ///< 1..65535
  int height = 48;  ///< 1..65535
  PngColor color = PngColor::kRgb;
  int bit_depth = 8;
  bool interlaced = false;
  bool transparency = false;  ///< a tRNS chunk: palette alphas, or a colour key taken from a pixel
  uint64_t seed = 0;
};

/// The image make_png encodes: render_rgb()'s pixels turned into the asked
/// colour type and depth (16-bit samples get a random low byte; palettes hold
/// 2^depth - 1 colours, or 2 for depth 1; alpha is a gradient).
PngImage render_png(const PngOptions& options);

/// encode_png(render_png(options)).
std::vector<uint8_t> make_png(const PngOptions& options);

struct MaskOptions {
  int width = 64;
  int height = 48;
  int classes = 21;          ///< class ids 0..classes-1; 1..256 (palette) or 1..65536 (16-bit gray)
  bool palette = true;       ///< palette PNG (index = class, as Pascal VOC); else grayscale
  int bit_depth = 8;         ///< palette: 1..8; gray: 1..16
  bool void_border = false;  ///< paint a 255 border around objects, as VOC does (needs 8-bit)
  uint64_t seed = 0;
};

/// Class ids (height x width) of a synthetic label map: blobs and bands with
/// sharp edges, so a resize that misaligns image and mask shows.
std::vector<uint16_t> render_mask(const MaskOptions& options);

/// The mask as a PNG (palette or gray as asked).
std::vector<uint8_t> make_mask_png(const MaskOptions& options);

/// A valid PNG header (signature and IHDR) claiming width x height 8-bit RGB,
/// with one tiny IDAT: a decompression bomb's shape, to test size limits.
std::vector<uint8_t> png_bomb(uint32_t width, uint32_t height);

}  // namespace ferry::sample
