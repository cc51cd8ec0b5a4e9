#include "transforms/png_decoder.h"

#include <spng.h>

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "base/error.h"
#include "transforms/detail/pixel_limit.h"
#include "transforms/detail/pixels.h"

namespace ferry::transforms {
namespace {

constexpr int kGray = 0, kRgb = 2, kPalette = 3, kGrayAlpha = 4, kRgba = 6;

// Ancillary chunks libspng may hold (one chunk, and all of them decompressed:
// text, ICC profiles): enough for any real file, and a bound on what a
// compressed-text bomb can make it allocate. Image data (IDAT) is not counted.
constexpr size_t kChunkLimit = size_t{64} << 20;

// Deflate cannot compress better than 1032:1 (a 258-byte match in about 2 bits),
// so a stream of n bytes never inflates to more than n * 1032 (+ slack for tiny files).
constexpr uint64_t kDeflateMaxRatio = 1032;

// The one place a libspng result code turns into ferry's error.
void check(int rc, const char* step) {
  if (rc != 0) throw BadSample(std::string("PNG decode failed: ") + step + ": " + spng_strerror(rc));
}

struct ContextDeleter {
  void operator()(spng_ctx* ctx) const { spng_ctx_free(ctx); }
};

int channels_of(int color_type) {
  switch (color_type) {
    case kRgb:
      return 3;
    case kGrayAlpha:
      return 2;
    case kRgba:
      return 4;
    default:
      return 1;
  }
}

// One row of packed PNG samples as 16-bit values (SPNG_FMT_PNG: host-endian for 16 bits).
void unpack_row(const uint8_t* row, size_t samples, int depth, uint16_t* out) {
  if (depth == 16) {
    const auto* r16 = reinterpret_cast<const uint16_t*>(row);
    std::copy(r16, r16 + samples, out);
  } else if (depth == 8) {
    std::copy(row, row + samples, out);
  } else {
    const unsigned mask = (1u << depth) - 1;
    for (size_t i = 0; i < samples; ++i) {
      const size_t bit = i * static_cast<size_t>(depth);
      out[i] = static_cast<uint16_t>((row[bit >> 3] >> (8 - depth - static_cast<int>(bit & 7))) & mask);
    }
  }
}

uint8_t to_8bit(unsigned v, int depth) {
  return depth == 16 ? static_cast<uint8_t>(v >> 8) : detail::scale_to_8bit(v, depth);
}

}  // namespace

struct PngDecoder::State {
  std::unique_ptr<spng_ctx, ContextDeleter> ctx;
  PngHeader header;
  bool header_ok = false;
  std::vector<uint8_t> native;   // grow-only: the image as stored (SPNG_FMT_PNG)
  std::vector<uint8_t> pixels;   // grow-only: the converted image
  std::vector<uint16_t> row;     // one unpacked row
  std::vector<uint16_t> labels;  // grow-only: decode_labels() output

  // Decodes the whole image in its stored layout into `dst` (resized to fit).
  // Returns the bytes per row.
  size_t decode_native(std::vector<uint8_t>& dst, size_t spare) {
    if (!header_ok) throw BadSample("PNG decode failed: decode() without a successful read_header()");
    header_ok = false;  // one decode per header
    size_t bytes = 0;
    check(spng_decoded_image_size(ctx.get(), SPNG_FMT_PNG, &bytes), "image size");
    if (dst.size() < bytes + spare) dst.resize(bytes + spare);
    // libspng places the pixels of an interlaced sub-byte image by OR-ing bits
    // into the rows, so they must start zeroed (scratch holds the last image).
    if (header.interlaced && header.bit_depth < 8)
      std::fill(dst.begin(), dst.begin() + static_cast<ptrdiff_t>(bytes), 0);
    check(spng_decode_image(ctx.get(), dst.data(), bytes, SPNG_FMT_PNG, 0), "image data");
    return bytes / static_cast<size_t>(header.height);
  }
};

PngDecoder::PngDecoder() : state_(std::make_unique<State>()) {}
PngDecoder::~PngDecoder() = default;

PngHeader PngDecoder::read_header(const uint8_t* data, size_t size, int64_t max_pixels) {
  State& s = *state_;
  s.header_ok = false;
  if (data == nullptr || size == 0) throw BadSample("PNG decode failed: empty input (0 bytes)");
  // libspng has no reset: a context per image (a few KB; the image itself dominates).
  s.ctx.reset(spng_ctx_new(0));
  if (!s.ctx) throw std::bad_alloc();
  check(spng_set_png_buffer(s.ctx.get(), data, size), "input");
  check(spng_set_chunk_limits(s.ctx.get(), kChunkLimit, kChunkLimit), "limits");
  spng_ihdr ihdr{};
  check(spng_get_ihdr(s.ctx.get(), &ihdr), "header");

  PngHeader h;
  h.width = static_cast<int>(ihdr.width);
  h.height = static_cast<int>(ihdr.height);
  h.bit_depth = ihdr.bit_depth;
  h.color_type = ihdr.color_type;
  h.interlaced = ihdr.interlace_method != 0;
  detail::check_pixel_limit("PNG", h.width, h.height, max_pixels);
  // Filtered scanlines (a filter byte each) of a non-interlaced image; Adam7 needs a little more.
  const uint64_t row_bytes =
      (uint64_t{ihdr.width} * static_cast<uint64_t>(channels_of(h.color_type)) * ihdr.bit_depth + 7) / 8 + 1;
  const uint64_t raw = row_bytes * ihdr.height;
  if (raw > (uint64_t{size} + 1024) * kDeflateMaxRatio) {
    throw BadSample("PNG decode failed: a " + std::to_string(size) + "-byte file cannot hold the " +
                    std::to_string(h.width) + "x" + std::to_string(h.height) +
                    " image its header claims (truncated, or a decompression bomb)");
  }
  s.header = h;
  s.header_ok = true;
  return h;
}

DecodedImage PngDecoder::decode(PixelFormat format) {
  State& s = *state_;
  const PngHeader h = s.header;
  const size_t width = static_cast<size_t>(h.width), height = static_cast<size_t>(h.height);
  const bool gray_source = h.color_type == kGray || h.color_type == kGrayAlpha;
  const int out_channels = format == PixelFormat::kRgba ? 4 : format == PixelFormat::kGray || gray_source ? 1 : 3;

  DecodedImage img;
  img.width = img.scaled_width = h.width;
  img.height = img.scaled_height = h.height;
  img.channels = out_channels;
  img.stride = width * static_cast<size_t>(out_channels);
  // 16 spare bytes let vector code read a little past the last pixel.
  constexpr size_t kSpare = 16;
  const bool stored_as_wanted = h.bit_depth == 8 && ((h.color_type == kRgb && out_channels == 3) ||
                                                     (h.color_type == kGray && out_channels == 1) ||
                                                     (h.color_type == kRgba && out_channels == 4));
  if (stored_as_wanted) {
    s.decode_native(s.pixels, kSpare);
    img.pixels = s.pixels.data();
    return img;
  }
  const size_t native_stride = s.decode_native(s.native, 0);

  // Palette and transparency are known once the chunks before IDAT are read.
  std::array<std::array<uint8_t, 4>, 256> palette{};  // past the palette's end: black, opaque
  for (auto& e : palette) e = {0, 0, 0, 255};
  if (h.color_type == kPalette) {
    spng_plte plte{};
    check(spng_get_plte(s.ctx.get(), &plte), "palette");
    for (uint32_t i = 0; i < plte.n_entries && i < 256; ++i)
      palette[i] = {plte.entries[i].red, plte.entries[i].green, plte.entries[i].blue, 255};
  }
  spng_trns trns{};
  const bool has_trns = format == PixelFormat::kRgba && spng_get_trns(s.ctx.get(), &trns) == 0;
  if (has_trns && h.color_type == kPalette)
    for (uint32_t i = 0; i < trns.n_type3_entries && i < 256; ++i) palette[i][3] = trns.type3_alpha[i];

  if (s.pixels.size() < img.stride * height + kSpare) s.pixels.resize(img.stride * height + kSpare);
  const int in_channels = channels_of(h.color_type);
  s.row.resize(width * static_cast<size_t>(in_channels));
  const int d = h.bit_depth;
  for (size_t y = 0; y < height; ++y) {
    unpack_row(s.native.data() + y * native_stride, s.row.size(), d, s.row.data());
    uint8_t* out = s.pixels.data() + y * img.stride;
    for (size_t x = 0; x < width; ++x) {
      const uint16_t* v = &s.row[x * static_cast<size_t>(in_channels)];
      uint8_t rgba[4];
      bool keyed = false;  // matches the tRNS colour key (raw values, as the PNG spec defines it)
      switch (h.color_type) {
        case kGray:
        case kGrayAlpha:
          rgba[0] = rgba[1] = rgba[2] = to_8bit(v[0], d);
          rgba[3] = h.color_type == kGrayAlpha ? to_8bit(v[1], d) : 255;
          keyed = h.color_type == kGray && has_trns && v[0] == trns.gray;
          break;
        case kPalette:
          std::copy(palette[v[0]].begin(), palette[v[0]].end(), rgba);
          break;
        default:
          for (int c = 0; c < 3; ++c) rgba[c] = to_8bit(v[c], d);
          rgba[3] = h.color_type == kRgba ? to_8bit(v[3], d) : 255;
          keyed = h.color_type == kRgb && has_trns && v[0] == trns.red && v[1] == trns.green && v[2] == trns.blue;
          break;
      }
      if (keyed) rgba[3] = 0;
      if (out_channels == 1) {
        out[x] = gray_source ? rgba[0] : detail::luma601(rgba[0], rgba[1], rgba[2]);
      } else {
        std::copy(rgba, rgba + out_channels, out + x * static_cast<size_t>(out_channels));
      }
    }
  }
  img.pixels = s.pixels.data();
  return img;
}

LabelImage PngDecoder::decode_labels() {
  State& s = *state_;
  const PngHeader h = s.header;
  if (s.header_ok && h.color_type != kGray && h.color_type != kGrayAlpha && h.color_type != kPalette) {
    s.header_ok = false;
    throw BadSample(std::string("PNG label map is ") + (h.color_type == kRgb ? "RGB" : "RGBA") +
                    "; class ids are read from palette or grayscale PNGs (convert colour-coded masks to ids first)");
  }
  const size_t native_stride = s.decode_native(s.native, 0);
  const size_t width = static_cast<size_t>(h.width), height = static_cast<size_t>(h.height);
  const size_t in_channels = static_cast<size_t>(channels_of(h.color_type));
  if (s.labels.size() < width * height) s.labels.resize(width * height);
  s.row.resize(width * in_channels);
  for (size_t y = 0; y < height; ++y) {
    unpack_row(s.native.data() + y * native_stride, s.row.size(), h.bit_depth, s.row.data());
    uint16_t* out = s.labels.data() + y * width;
    for (size_t x = 0; x < width; ++x) out[x] = s.row[x * in_channels];
  }
  return {s.labels.data(), h.width, h.height};
}

}  // namespace ferry::transforms
