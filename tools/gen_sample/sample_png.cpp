#include "tools/gen_sample/sample_png.h"

#include <zlib.h>

#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "base/rng.h"
#include "tools/gen_sample/sample_data.h"

namespace ferry::sample {
namespace {

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

void put_chunk(std::vector<uint8_t>& out, const char type[4], const std::vector<uint8_t>& data) {
  put_u32(out, static_cast<uint32_t>(data.size()));
  const size_t start = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  const uLong crc = crc32(0L, out.data() + start, static_cast<uInt>(out.size() - start));
  put_u32(out, static_cast<uint32_t>(crc));
}

// Packs one row of samples at `depth` bits each (big-endian for 16, MSB first below 8).
void pack_row(const uint16_t* samples, size_t count, int depth, std::vector<uint8_t>& out) {
  if (depth == 16) {
    for (size_t i = 0; i < count; ++i) {
      out.push_back(static_cast<uint8_t>(samples[i] >> 8));
      out.push_back(static_cast<uint8_t>(samples[i]));
    }
  } else if (depth == 8) {
    for (size_t i = 0; i < count; ++i) out.push_back(static_cast<uint8_t>(samples[i]));
  } else {
    int used = 0;
    uint8_t byte = 0;
    for (size_t i = 0; i < count; ++i) {
      byte = static_cast<uint8_t>(byte | samples[i] << (8 - depth - used));
      used += depth;
      if (used == 8) {
        out.push_back(byte);
        byte = 0;
        used = 0;
      }
    }
    if (used > 0) out.push_back(byte);
  }
}

int paeth(int a, int b, int c) {
  const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

// Appends filter byte `type` and the filtered row (prev: the previous raw row, or zeros).
void filter_row(int type, const std::vector<uint8_t>& row, const std::vector<uint8_t>& prev, size_t bpp,
                std::vector<uint8_t>& out) {
  out.push_back(static_cast<uint8_t>(type));
  for (size_t i = 0; i < row.size(); ++i) {
    const int a = i >= bpp ? row[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
    const int predictor = type == 1 ? a : type == 2 ? b : type == 3 ? (a + b) / 2 : type == 4 ? paeth(a, b, c) : 0;
    out.push_back(static_cast<uint8_t>(row[i] - predictor));
  }
}

struct Pass {
  int x0, y0, dx, dy;
};
constexpr Pass kAdam7[] = {{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4},
                           {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}};
constexpr Pass kWhole[] = {{0, 0, 1, 1}};

void check(const PngImage& im) {
  const int d = im.bit_depth;
  const bool depth_ok = im.color == PngColor::kGray      ? (d == 1 || d == 2 || d == 4 || d == 8 || d == 16)
                        : im.color == PngColor::kPalette ? (d == 1 || d == 2 || d == 4 || d == 8)
                                                         : (d == 8 || d == 16);
  if (!depth_ok) throw std::invalid_argument("encode_png: bit depth " + std::to_string(d) + " is invalid here");
  if (im.width < 1 || im.height < 1) throw std::invalid_argument("encode_png: empty image");
  const size_t n =
      static_cast<size_t>(im.width) * static_cast<size_t>(im.height) * static_cast<size_t>(png_channels(im.color));
  if (im.samples.size() != n) throw std::invalid_argument("encode_png: wrong number of samples");
  const unsigned max = (1u << d) - 1;
  if (std::any_of(im.samples.begin(), im.samples.end(), [&](uint16_t s) { return s > max; }))
    throw std::invalid_argument("encode_png: a sample exceeds the bit depth");
  if (im.color == PngColor::kPalette && (im.palette.empty() || im.palette.size() > 256))
    throw std::invalid_argument("encode_png: a palette image needs 1..256 palette entries");
}

}  // namespace

int png_channels(PngColor color) {
  switch (color) {
    case PngColor::kGray:
    case PngColor::kPalette:
      return 1;
    case PngColor::kGrayAlpha:
      return 2;
    case PngColor::kRgb:
      return 3;
    case PngColor::kRgba:
      return 4;
  }
  return 0;
}

std::vector<uint8_t> encode_png(const PngImage& im) {
  check(im);
  const int channels = png_channels(im.color);
  const size_t bpp = std::max<size_t>(1, static_cast<size_t>(channels * im.bit_depth / 8));

  std::vector<uint8_t> raw;  // filtered scanlines of every pass
  std::vector<uint16_t> pass_samples;
  std::vector<uint8_t> row, prev;
  int filter = 0;
  const Pass* passes = im.interlaced ? kAdam7 : kWhole;
  const int pass_count = im.interlaced ? 7 : 1;
  for (int p = 0; p < pass_count; ++p) {
    const Pass& pass = passes[p];
    prev.clear();
    for (int y = pass.y0; y < im.height; y += pass.dy) {
      pass_samples.clear();
      for (int x = pass.x0; x < im.width; x += pass.dx) {
        const size_t at = (static_cast<size_t>(y) * static_cast<size_t>(im.width) + static_cast<size_t>(x)) *
                          static_cast<size_t>(channels);
        pass_samples.insert(pass_samples.end(), im.samples.begin() + static_cast<ptrdiff_t>(at),
                            im.samples.begin() + static_cast<ptrdiff_t>(at) + channels);
      }
      if (pass_samples.empty()) break;  // a pass with no columns has no rows either
      row.clear();
      pack_row(pass_samples.data(), pass_samples.size(), im.bit_depth, row);
      if (prev.empty()) prev.assign(row.size(), 0);
      filter_row(filter, row, prev, bpp, raw);
      filter = (filter + 1) % 5;
      prev = row;
    }
  }

  uLongf compressed_size = compressBound(static_cast<uLong>(raw.size()));
  std::vector<uint8_t> compressed(compressed_size);
  if (compress2(compressed.data(), &compressed_size, raw.data(), static_cast<uLong>(raw.size()),
                im.compression_level) != Z_OK)
    throw std::runtime_error("encode_png: zlib compress2 failed");
  compressed.resize(compressed_size);

  std::vector<uint8_t> out = {137, 80, 78, 71, 13, 10, 26, 10};
  std::vector<uint8_t> ihdr;
  put_u32(ihdr, static_cast<uint32_t>(im.width));
  put_u32(ihdr, static_cast<uint32_t>(im.height));
  ihdr.insert(ihdr.end(), {static_cast<uint8_t>(im.bit_depth), static_cast<uint8_t>(im.color), 0, 0,
                           static_cast<uint8_t>(im.interlaced ? 1 : 0)});
  put_chunk(out, "IHDR", ihdr);
  if (im.color == PngColor::kPalette) {
    std::vector<uint8_t> plte;
    for (const auto& e : im.palette) plte.insert(plte.end(), e.begin(), e.end());
    put_chunk(out, "PLTE", plte);
    if (!im.palette_alpha.empty()) put_chunk(out, "tRNS", im.palette_alpha);
  } else if (im.color_key) {
    std::vector<uint8_t> trns;
    const int n = im.color == PngColor::kGray ? 1 : 3;
    for (int c = 0; c < n; ++c) {
      trns.push_back(static_cast<uint8_t>((*im.color_key)[static_cast<size_t>(c)] >> 8));
      trns.push_back(static_cast<uint8_t>((*im.color_key)[static_cast<size_t>(c)]));
    }
    put_chunk(out, "tRNS", trns);
  }
  // Split the data over two IDAT chunks, as encoders often do.
  const size_t half = compressed.size() / 2;
  put_chunk(out, "IDAT", std::vector<uint8_t>(compressed.begin(), compressed.begin() + static_cast<ptrdiff_t>(half)));
  put_chunk(out, "IDAT", std::vector<uint8_t>(compressed.begin() + static_cast<ptrdiff_t>(half), compressed.end()));
  put_chunk(out, "IEND", {});
  return out;
}

PngImage render_png(const PngOptions& o) {
  if (o.width < 1 || o.width > 65535 || o.height < 1 || o.height > 65535)
    throw std::invalid_argument("render_png: width and height must be in 1..65535");
  const std::vector<uint8_t> rgb = render_rgb(o.width, o.height, o.seed);
  Rng rng(mix_seed(o.seed, 0x9e6));
  PngImage im;
  im.width = o.width;
  im.height = o.height;
  im.color = o.color;
  im.bit_depth = o.bit_depth;
  im.interlaced = o.interlaced;
  const int channels = png_channels(o.color);
  const size_t pixels = static_cast<size_t>(o.width) * static_cast<size_t>(o.height);
  im.samples.resize(pixels * static_cast<size_t>(channels));
  const int depth = o.bit_depth;
  // An 8-bit value at the asked depth: the top bits, or a 16-bit value with a random low byte.
  auto at_depth = [&](uint8_t v) -> uint16_t {
    if (depth == 16) return static_cast<uint16_t>(v << 8 | static_cast<uint16_t>(rng.below(256)));
    return static_cast<uint16_t>(v >> (8 - depth));
  };
  const int palette_size = depth == 1 ? 2 : (1 << depth) - 1;
  if (o.color == PngColor::kPalette) {
    for (int i = 0; i < palette_size; ++i)
      im.palette.push_back({static_cast<uint8_t>(rng.below(256)), static_cast<uint8_t>(rng.below(256)),
                            static_cast<uint8_t>(rng.below(256))});
    if (o.transparency)
      for (int i = 0; i < palette_size / 2 + 1; ++i) im.palette_alpha.push_back(static_cast<uint8_t>(rng.below(256)));
  }
  for (size_t i = 0; i < pixels; ++i) {
    const uint8_t r = rgb[3 * i], g = rgb[3 * i + 1], b = rgb[3 * i + 2];
    const uint8_t luma = static_cast<uint8_t>((299 * r + 587 * g + 114 * b + 500) / 1000);
    const uint8_t alpha = static_cast<uint8_t>((i % static_cast<size_t>(o.width)) * 255 / std::max(1, o.width - 1));
    uint16_t* s = &im.samples[i * static_cast<size_t>(channels)];
    switch (o.color) {
      case PngColor::kGray:
        s[0] = at_depth(luma);
        break;
      case PngColor::kGrayAlpha:
        s[0] = at_depth(luma);
        s[1] = at_depth(alpha);
        break;
      case PngColor::kRgb:
      case PngColor::kRgba:
        s[0] = at_depth(r);
        s[1] = at_depth(g);
        s[2] = at_depth(b);
        if (o.color == PngColor::kRgba) s[3] = at_depth(alpha);
        break;
      case PngColor::kPalette:
        s[0] = static_cast<uint16_t>(luma * palette_size / 256);
        break;
    }
  }
  if (o.transparency && (o.color == PngColor::kGray || o.color == PngColor::kRgb)) {
    // The key is an existing pixel's value, so some pixels become transparent.
    const uint16_t* s = &im.samples[(pixels / 3) * static_cast<size_t>(channels)];
    im.color_key =
        std::array<uint16_t, 3>{s[0], channels == 3 ? s[1] : uint16_t{0}, channels == 3 ? s[2] : uint16_t{0}};
  }
  return im;
}

std::vector<uint8_t> make_png(const PngOptions& options) { return encode_png(render_png(options)); }

std::vector<uint16_t> render_mask(const MaskOptions& o) {
  if (o.width < 1 || o.height < 1) throw std::invalid_argument("render_mask: empty mask");
  if (o.classes < 1 || o.classes > 65536) throw std::invalid_argument("render_mask: classes must be in 1..65536");
  Rng rng(mix_seed(o.seed, 0x3a5c));
  const size_t w = static_cast<size_t>(o.width), h = static_cast<size_t>(o.height);
  std::vector<uint16_t> mask(w * h, 0);
  const int blobs = 4 + static_cast<int>(rng.below(6));
  for (int b = 0; b < blobs; ++b) {
    const uint16_t cls = static_cast<uint16_t>(rng.below(static_cast<uint64_t>(o.classes)));
    const double cx = rng.uniform(0, o.width), cy = rng.uniform(0, o.height);
    const double rx = rng.uniform(0.05, 0.35) * o.width + 1, ry = rng.uniform(0.05, 0.35) * o.height + 1;
    const bool disc = rng.below(2) == 0;
    for (size_t y = 0; y < h; ++y)
      for (size_t x = 0; x < w; ++x) {
        const double dx = (static_cast<double>(x) - cx) / rx, dy = (static_cast<double>(y) - cy) / ry;
        const bool inside = disc ? dx * dx + dy * dy <= 1 : std::abs(dx) <= 1 && std::abs(dy) <= 1;
        if (!inside) continue;
        const bool edge =
            o.void_border && (disc ? dx * dx + dy * dy > 0.8 : std::max(std::abs(dx), std::abs(dy)) > 0.9);
        mask[y * w + x] = edge ? uint16_t{255} : cls;
      }
  }
  return mask;
}

std::vector<uint8_t> make_mask_png(const MaskOptions& o) {
  PngImage im;
  im.width = o.width;
  im.height = o.height;
  im.color = o.palette ? PngColor::kPalette : PngColor::kGray;
  im.bit_depth = o.bit_depth;
  const unsigned max = (1u << o.bit_depth) - 1;
  if (o.void_border && o.bit_depth < 8) throw std::invalid_argument("make_mask_png: void_border needs 8 bits");
  if (static_cast<unsigned>(o.classes) - 1 > max)
    throw std::invalid_argument("make_mask_png: " + std::to_string(o.classes) + " classes need more than " +
                                std::to_string(o.bit_depth) + " bits");
  im.samples = render_mask(o);
  if (o.palette) {
    Rng rng(mix_seed(o.seed, 0x9a1));
    for (unsigned i = 0; i <= max; ++i)
      im.palette.push_back({static_cast<uint8_t>(rng.below(256)), static_cast<uint8_t>(rng.below(256)),
                            static_cast<uint8_t>(rng.below(256))});
  }
  return encode_png(im);
}

std::vector<uint8_t> png_bomb(uint32_t width, uint32_t height) {
  std::vector<uint8_t> out = {137, 80, 78, 71, 13, 10, 26, 10};
  std::vector<uint8_t> ihdr;
  put_u32(ihdr, width);
  put_u32(ihdr, height);
  ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});
  put_chunk(out, "IHDR", ihdr);
  // One row of zeros compressed: far less data than the header claims.
  std::vector<uint8_t> row(1 + 3 * static_cast<size_t>(std::min<uint32_t>(width, 1u << 16)), 0);
  uLongf size = compressBound(static_cast<uLong>(row.size()));
  std::vector<uint8_t> z(size);
  compress2(z.data(), &size, row.data(), static_cast<uLong>(row.size()), 9);
  z.resize(size);
  put_chunk(out, "IDAT", z);
  put_chunk(out, "IEND", {});
  return out;
}

}  // namespace ferry::sample
