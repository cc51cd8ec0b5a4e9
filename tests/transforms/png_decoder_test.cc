#include "transforms/png_decoder.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "base/error.h"
#include "tests/transforms/test_util.h"
#include "tools/gen_sample/sample_png.h"

namespace ferry::transforms {
namespace {

using sample::PngColor;
using sample::PngOptions;
using testing::pillow;
using testing::TempDir;

std::string color_name(PngColor c) {
  switch (c) {
    case PngColor::kGray:
      return "gray";
    case PngColor::kRgb:
      return "rgb";
    case PngColor::kPalette:
      return "palette";
    case PngColor::kGrayAlpha:
      return "gray+alpha";
    case PngColor::kRgba:
      return "rgba";
  }
  return "?";
}

// Every legal (colour type, depth) pair of the PNG specification.
std::vector<std::pair<PngColor, int>> all_kinds() {
  return {{PngColor::kGray, 1},       {PngColor::kGray, 2},    {PngColor::kGray, 4},    {PngColor::kGray, 8},
          {PngColor::kGray, 16},      {PngColor::kRgb, 8},     {PngColor::kRgb, 16},    {PngColor::kPalette, 1},
          {PngColor::kPalette, 2},    {PngColor::kPalette, 4}, {PngColor::kPalette, 8}, {PngColor::kGrayAlpha, 8},
          {PngColor::kGrayAlpha, 16}, {PngColor::kRgba, 8},    {PngColor::kRgba, 16}};
}

std::vector<uint8_t> decode_copy(PngDecoder& dec, const std::vector<uint8_t>& png, PixelFormat format,
                                 DecodedImage* info) {
  dec.read_header(png.data(), png.size(), 1 << 30);
  *info = dec.decode(format);
  return {info->pixels, info->pixels + info->stride * static_cast<size_t>(info->height)};
}

std::string bad_sample_message(PngDecoder& dec, const std::vector<uint8_t>& png, int64_t max_pixels = 1 << 30) {
  try {
    dec.read_header(png.data(), png.size(), max_pixels);
    dec.decode(PixelFormat::kRgb);
  } catch (const BadSample& e) {
    return e.what();
  }
  return "(no BadSample)";
}

TEST(PngDecoder, EveryColourTypeDepthAndInterlaceDecodesExactlyAsPillow) {
  SKIP_WITHOUT_PILLOW();
  TempDir dir;
  struct Case {
    std::string what, path;
    PixelFormat format;
    int pillow_channels;
  };
  std::vector<Case> cases;
  std::string jobs;
  int n = 0;
  for (const auto& [color, depth] : all_kinds())
    for (bool interlaced : {false, true})
      for (bool trns : {false, true}) {
        if (trns && color != PngColor::kGray && color != PngColor::kRgb && color != PngColor::kPalette) continue;
        const PngOptions o{.width = 29 + n % 11,
                           .height = 17 + n % 7,
                           .color = color,
                           .bit_depth = depth,
                           .interlaced = interlaced,
                           .transparency = trns,
                           .seed = static_cast<uint64_t>(n)};
        const std::string path = (dir.path() / ("p" + std::to_string(n++) + ".png")).string();
        testing::write_file(path, sample::make_png(o));
        const std::string what = color_name(color) + " " + std::to_string(depth) + "-bit" +
                                 (interlaced ? " interlaced" : "") + (trns ? " tRNS" : "");
        const bool gray16 = color == PngColor::kGray && depth == 16;
        // Pillow's 16-bit gray is mode I (its RGB/L conversion clips): compare its high byte.
        cases.push_back({what + " as RGB", path, PixelFormat::kRgb, gray16 ? 1 : 3});
        jobs += path + (gray16 ? " HIGH8" : " RGB") + " decode\n";
        cases.push_back({what + " as L", path, PixelFormat::kGray, 1});
        jobs += path + (gray16 ? " HIGH8" : " L") + " decode\n";
        // Pillow compares a 16-bit or sub-byte colour key with 8-bit pixels; the PNG
        // specification (and ferry) with the stored samples: compare where they agree.
        const bool pillow_key_differs = trns && (depth != 8) && color != PngColor::kPalette;
        if (!gray16 && !pillow_key_differs) {
          cases.push_back({what + " as RGBA", path, PixelFormat::kRgba, 4});
          jobs += path + " RGBA decode\n";
        }
      }
  const auto ref = pillow(dir, jobs);
  ASSERT_FALSE(ref.empty()) << "pillow_reference.py failed";
  PngDecoder dec;
  size_t offset = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    DecodedImage img;
    const auto ours = decode_copy(dec, testing::read_file(c.path), c.format, &img);
    const size_t pixels = static_cast<size_t>(img.width) * static_cast<size_t>(img.height);
    ASSERT_LE(offset + pixels * static_cast<size_t>(c.pillow_channels), ref.size());
    const uint8_t* r = ref.data() + offset;
    offset += pixels * static_cast<size_t>(c.pillow_channels);
    // Gray sources come back as one channel for RGB; Pillow repeats it three times.
    const int step = c.pillow_channels / img.channels;
    ASSERT_TRUE(step == 1 || step == 3) << img.channels;
    int mismatches = 0;
    for (size_t i = 0; i < pixels * static_cast<size_t>(img.channels); ++i) {
      const size_t p = i / static_cast<size_t>(img.channels), ch = i % static_cast<size_t>(img.channels);
      for (int k = 0; k < step; ++k)
        mismatches +=
            ours[i] !=
            r[p * static_cast<size_t>(c.pillow_channels) + ch * static_cast<size_t>(step) + static_cast<size_t>(k)];
    }
    EXPECT_EQ(mismatches, 0);
  }
  EXPECT_EQ(offset, ref.size());
}

TEST(PngDecoder, AlphaComesFromTheAlphaChannelOrTrns) {
  PngDecoder dec;
  DecodedImage img;
  // RGBA: the 4th channel is the stored alpha (the generator's gradient: 0 at the left, 255 at the right).
  auto rgba = decode_copy(dec, sample::make_png({.width = 16, .height = 2, .color = PngColor::kRgba}),
                          PixelFormat::kRgba, &img);
  EXPECT_EQ(rgba[3], 0);
  EXPECT_EQ(rgba[15 * 4 + 3], 255);
  // An opaque RGB image without tRNS gets alpha 255 everywhere.
  auto rgb = decode_copy(dec, sample::make_png({.width = 16, .height = 2}), PixelFormat::kRgba, &img);
  for (size_t i = 3; i < rgb.size() - 16; i += 4) ASSERT_EQ(rgb[i], 255);
  // kRgb drops alpha: the colour channels are those of kRgba.
  auto dropped =
      decode_copy(dec, sample::make_png({.width = 16, .height = 2, .color = PngColor::kRgba}), PixelFormat::kRgb, &img);
  ASSERT_EQ(img.channels, 3);
  for (size_t p = 0; p < 32; ++p)
    for (size_t c = 0; c < 3; ++c) ASSERT_EQ(dropped[3 * p + c], rgba[4 * p + c]);
}

TEST(PngDecoder, LabelsAreTheStoredValuesAsPillowReadsThem) {
  SKIP_WITHOUT_PILLOW();
  TempDir dir;
  struct Case {
    std::string path;
    sample::MaskOptions o;
  };
  std::vector<Case> cases;
  std::string jobs;
  // Pillow scales 2- and 4-bit gray to 0..255 (checked against the generator below instead).
  for (const sample::MaskOptions& o :
       {sample::MaskOptions{.classes = 21, .palette = true, .bit_depth = 8, .void_border = true, .seed = 1},
        sample::MaskOptions{.classes = 4, .palette = true, .bit_depth = 2, .seed = 2},
        sample::MaskOptions{.classes = 2, .palette = true, .bit_depth = 1, .seed = 3},
        sample::MaskOptions{.classes = 150, .palette = false, .bit_depth = 8, .seed = 4},
        sample::MaskOptions{.classes = 2, .palette = false, .bit_depth = 1, .seed = 5},
        sample::MaskOptions{.classes = 3000, .palette = false, .bit_depth = 16, .seed = 6}}) {
    const std::string path = (dir.path() / ("m" + std::to_string(cases.size()) + ".png")).string();
    testing::write_file(path, sample::make_mask_png(o));
    cases.push_back({path, o});
    jobs += path + " - labels\n";
  }
  const auto ref = pillow(dir, jobs);
  ASSERT_FALSE(ref.empty());
  PngDecoder dec;
  size_t offset = 0;
  for (const Case& c : cases) {
    const auto png = testing::read_file(c.path);
    dec.read_header(png.data(), png.size(), 1 << 30);
    const LabelImage labels = dec.decode_labels();
    const size_t n = static_cast<size_t>(labels.width) * static_cast<size_t>(labels.height);
    ASSERT_LE(offset + 2 * n, ref.size());
    std::vector<uint16_t> theirs(n);
    std::memcpy(theirs.data(), ref.data() + offset, 2 * n);
    offset += 2 * n;
    EXPECT_EQ(std::vector<uint16_t>(labels.values, labels.values + n), theirs) << c.path;
    EXPECT_EQ(std::vector<uint16_t>(labels.values, labels.values + n), sample::render_mask(c.o)) << c.path;
  }
  PngDecoder raw;
  const sample::MaskOptions four_bit{.classes = 16, .palette = false, .bit_depth = 4, .seed = 9};
  const auto png = sample::make_mask_png(four_bit);
  raw.read_header(png.data(), png.size(), 1 << 30);
  const LabelImage l = raw.decode_labels();
  EXPECT_EQ(std::vector<uint16_t>(l.values, l.values + 64 * 48), sample::render_mask(four_bit));
}

TEST(PngDecoder, ColourImagesAreNotLabelMaps) {
  PngDecoder dec;
  const auto png = sample::make_png({.color = PngColor::kRgb});
  dec.read_header(png.data(), png.size(), 1 << 30);
  try {
    dec.decode_labels();
    FAIL() << "no BadSample";
  } catch (const BadSample& e) {
    EXPECT_NE(std::string(e.what()).find("palette or grayscale"), std::string::npos) << e.what();
  }
}

TEST(PngDecoder, TruncatedCorruptAndForeignInputsAreBadSamples) {
  PngDecoder dec;
  const auto png = sample::make_png({.width = 120, .height = 90, .seed = 4});
  for (size_t cut : {size_t{0}, size_t{7}, size_t{20}, size_t{40}, png.size() / 3, png.size() / 2, png.size() - 40}) {
    auto t = png;
    t.resize(cut);
    EXPECT_NE(bad_sample_message(dec, t).find("PNG decode failed"), std::string::npos) << "cut at " << cut;
  }
  auto flipped = png;
  flipped[png.size() / 2] ^= 0x10;  // inside IDAT: the chunk's CRC no longer matches
  EXPECT_NE(bad_sample_message(dec, flipped).find("PNG decode failed"), std::string::npos);
  auto bad_ihdr = png;
  bad_ihdr[24] = 7;  // bit depth 7
  EXPECT_NE(bad_sample_message(dec, bad_ihdr).find("PNG decode failed"), std::string::npos);
  const std::vector<uint8_t> jpeg_magic = {0xFF, 0xD8, 0xFF, 0xE0, 0, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_NE(bad_sample_message(dec, jpeg_magic).find("PNG decode failed"), std::string::npos);
  // The decoder is usable after every failure.
  DecodedImage img;
  EXPECT_EQ(decode_copy(dec, png, PixelFormat::kRgb, &img).size(), 120u * 90 * 3);
}

TEST(PngDecoder, BombsAreRejectedBeforeAllocating) {
  PngDecoder dec;
  // Over the pixel limit: named with the limit.
  const std::string over = bad_sample_message(dec, sample::png_bomb(20000, 20000), 100'000'000);
  EXPECT_NE(over.find("over the limit of 100000000"), std::string::npos) << over;
  // Under the limit but far more pixels than the file's bytes can hold.
  const std::string hollow = bad_sample_message(dec, sample::png_bomb(9000, 9000), 100'000'000);
  EXPECT_NE(hollow.find("cannot hold"), std::string::npos) << hollow;
  // The largest dimensions PNG allows.
  const std::string huge = bad_sample_message(dec, sample::png_bomb(0x7FFFFFFF, 0x7FFFFFFF));
  EXPECT_NE(huge.find("PNG decode failed"), std::string::npos) << huge;
}

TEST(PngDecoder, DecodeWithoutAHeaderIsABadSample) {
  PngDecoder dec;
  EXPECT_THROW(dec.decode(PixelFormat::kRgb), BadSample);
  const auto png = sample::make_png({});
  dec.read_header(png.data(), png.size(), 1 << 30);
  dec.decode(PixelFormat::kRgb);
  EXPECT_THROW(dec.decode(PixelFormat::kRgb), BadSample) << "one decode per header";
}

}  // namespace
}  // namespace ferry::transforms
