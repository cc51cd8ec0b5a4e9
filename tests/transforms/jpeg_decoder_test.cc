#include "transforms/jpeg_decoder.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "base/error.h"
#include "base/rng.h"
#include "tests/transforms/test_util.h"
#include "tools/gen_sample/sample_data.h"

namespace ferry::transforms {
namespace {

using sample::ColorModel;
using sample::JpegOptions;
using sample::Subsampling;
using testing::diff;

constexpr Subsampling kAllLayouts[] = {Subsampling::k444, Subsampling::k422, Subsampling::k420, Subsampling::k440,
                                       Subsampling::kGray};

std::string layout_name(Subsampling s) {
  switch (s) {
    case Subsampling::k444:
      return "444";
    case Subsampling::k422:
      return "422";
    case Subsampling::k420:
      return "420";
    case Subsampling::k440:
      return "440";
    case Subsampling::kGray:
      return "gray";
  }
  return "?";
}

// Decodes the whole image at scale 8/8 and returns a copy of its pixels.
std::vector<uint8_t> full_decode(JpegDecoder& dec, const std::vector<uint8_t>& jpeg, DecodedImage* info,
                                 JpegDecodeOptions options = {}) {
  dec.read_header(jpeg.data(), jpeg.size(), options);
  *info = dec.decode({});
  return {info->pixels, info->pixels + info->stride * static_cast<size_t>(info->height)};
}

std::string bad_sample_message(JpegDecoder& dec, const std::vector<uint8_t>& bytes) {
  try {
    dec.read_header(bytes.data(), bytes.size(), {});
    dec.decode({});
  } catch (const BadSample& e) {
    return e.what();
  }
  return "(no BadSample)";
}

TEST(JpegDecoder, EveryChromaLayoutCodingAndRestartMarkersDecodeLikeTurboJpeg) {
  JpegDecoder dec;
  int n = 0;
  for (Subsampling sub : kAllLayouts)
    for (bool progressive : {false, true})
      for (bool restart : {false, true}) {
        const JpegOptions o{.width = 123 + n,
                            .height = 77 + n,
                            .subsampling = sub,
                            .progressive = progressive,
                            .restart_markers = restart,
                            .seed = static_cast<uint64_t>(n)};
        ++n;
        const auto jpeg = sample::make_jpeg(o);
        DecodedImage img;
        const auto ours = full_decode(dec, jpeg, &img);
        const int channels = sub == Subsampling::kGray ? 1 : 3;
        int w = 0, h = 0;
        const auto ref = testing::turbo_decode(jpeg, &w, &h, channels);
        SCOPED_TRACE(layout_name(sub) + (progressive ? " progressive" : "") + (restart ? " restart" : ""));
        ASSERT_EQ(img.width, o.width);
        ASSERT_EQ(img.height, o.height);
        ASSERT_EQ(img.channels, channels);
        ASSERT_EQ(ref.size(), img.stride * static_cast<size_t>(img.height));
        EXPECT_EQ(0, std::memcmp(ours.data(), ref.data(), ref.size()));
      }
}

TEST(JpegDecoder, RegionDecodeMatchesTheSameRegionOfAFullDecodeAtEveryScale) {
  JpegDecoder dec;
  Rng rng(5);
  for (Subsampling sub : kAllLayouts) {
    const auto jpeg = sample::make_jpeg({.width = 331, .height = 257, .subsampling = sub, .seed = 9});
    for (int scale = 1; scale <= 8; ++scale) {
      dec.read_header(jpeg.data(), jpeg.size(), {});
      const DecodedImage full_img = dec.decode({.scale_num = scale});
      const std::vector<uint8_t> full(full_img.pixels,
                                      full_img.pixels + full_img.stride * static_cast<size_t>(full_img.height));
      const int sw = JpegDecoder::scaled_size(331, scale), sh = JpegDecoder::scaled_size(257, scale);
      ASSERT_EQ(full_img.width, sw);
      ASSERT_EQ(full_img.height, sh);
      for (int trial = 0; trial < 6; ++trial) {
        const int x = static_cast<int>(rng.below(static_cast<uint64_t>(sw)));
        const int y = static_cast<int>(rng.below(static_cast<uint64_t>(sh)));
        const int w = 1 + static_cast<int>(rng.below(static_cast<uint64_t>(sw - x)));
        const int h = 1 + static_cast<int>(rng.below(static_cast<uint64_t>(sh - y)));
        dec.read_header(jpeg.data(), jpeg.size(), {});
        const DecodedImage roi = dec.decode({.scale_num = scale, .x = x, .y = y, .width = w, .height = h});
        SCOPED_TRACE(layout_name(sub) + " scale " + std::to_string(scale) + "/8 region " + std::to_string(x) + "," +
                     std::to_string(y) + " " + std::to_string(w) + "x" + std::to_string(h));
        ASSERT_LE(roi.x, x);
        ASSERT_LE(roi.y, y);
        ASSERT_GE(roi.x + roi.width, x + w);
        ASSERT_GE(roi.y + roi.height, y + h);
        ASSERT_EQ(roi.scaled_width, sw);
        // Compare the asked-for region only; the decoder may return more columns.
        double sum = 0;
        int max = 0;
        for (int r = 0; r < h; ++r) {
          const uint8_t* a = roi.pixels + static_cast<size_t>(y - roi.y + r) * roi.stride +
                             static_cast<size_t>((x - roi.x) * roi.channels);
          const uint8_t* b =
              full.data() + static_cast<size_t>(y + r) * full_img.stride + static_cast<size_t>(x * full_img.channels);
          const auto d = diff(a, b, static_cast<size_t>(w * roi.channels));
          sum += d.mean * w * roi.channels;
          max = std::max(max, d.max);
        }
        EXPECT_LE(max, 2);
        EXPECT_LE(sum / (static_cast<double>(w) * h * roi.channels), 0.05);
      }
    }
  }
}

TEST(JpegDecoder, CmykAndYcckBecomeRgbCloseToTheSourcePixels) {
  JpegDecoder dec;
  const auto source = sample::render_rgb(96, 64, 3);
  for (ColorModel model : {ColorModel::kCmyk, ColorModel::kYcck}) {
    const auto jpeg = sample::make_jpeg(
        {.width = 96, .height = 64, .quality = 98, .subsampling = Subsampling::k444, .color_model = model, .seed = 3});
    DecodedImage img;
    const auto rgb = full_decode(dec, jpeg, &img);
    ASSERT_EQ(img.channels, 3);
    const auto d = diff(rgb.data(), source.data(), source.size());
    EXPECT_LT(d.mean, 4.0) << (model == ColorModel::kCmyk ? "CMYK" : "YCCK");
  }
}

TEST(JpegDecoder, GrayscaleIsDecodedAsOneChannelWhenAsked) {
  JpegDecoder dec;
  const auto jpeg = sample::make_jpeg({.width = 64, .height = 48, .subsampling = Subsampling::k420, .seed = 1});
  DecodedImage img;
  full_decode(dec, jpeg, &img, {.grayscale = true});
  EXPECT_EQ(img.channels, 1);
  EXPECT_EQ(img.stride, 64u);
}

TEST(JpegDecoder, ScaleIsTheSmallestWhoseCropCoversTheOutput) {
  EXPECT_EQ(JpegDecoder::scale_for(500, 375, 224, 224), 5);  // 375*5/8 = 234 >= 224, 375*4/8 < 224
  EXPECT_EQ(JpegDecoder::scale_for(2000, 2000, 224, 224), 1);
  EXPECT_EQ(JpegDecoder::scale_for(100, 100, 224, 224), 8);
  EXPECT_EQ(JpegDecoder::scale_for(448, 448, 224, 224), 4);
  using Set = JpegDecoder::ScaleSet;
  EXPECT_EQ(JpegDecoder::scale_for(500, 375, 224, 224, Set::kSimd), 8);
  EXPECT_EQ(JpegDecoder::scale_for(900, 600, 224, 224, Set::kSimd), 4);
  EXPECT_EQ(JpegDecoder::scale_for(900, 900, 224, 224, Set::kSimd), 2);
}

// --- bad input ---------------------------------------------------------------

std::vector<uint8_t> good_jpeg() { return sample::make_jpeg({.width = 200, .height = 150, .seed = 2}); }

// Offset of the first byte of entropy-coded data (after the SOS segment).
size_t scan_start(const std::vector<uint8_t>& j) {
  for (size_t i = 2; i + 3 < j.size(); ++i)
    if (j[i] == 0xFF && j[i + 1] == 0xDA) return i + 2 + (size_t{j[i + 2]} << 8 | j[i + 3]);
  return 0;
}

TEST(JpegDecoder, ZeroByteInputIsABadSample) {
  JpegDecoder dec;
  EXPECT_NE(bad_sample_message(dec, {}).find("empty"), std::string::npos);
}

TEST(JpegDecoder, TruncatedFileIsABadSampleWithLibjpegsMessage) {
  JpegDecoder dec;
  auto j = good_jpeg();
  j.resize(j.size() / 2);
  EXPECT_NE(bad_sample_message(dec, j).find("Premature end of JPEG file"), std::string::npos);
  j.resize(100);  // inside the headers
  EXPECT_NE(bad_sample_message(dec, j).find("JPEG decode failed"), std::string::npos);
}

TEST(JpegDecoder, CorruptEntropyDataThatLibjpegDetectsIsABadSample) {
  JpegDecoder dec;
  auto j = good_jpeg();
  const size_t s = scan_start(j);
  ASSERT_GT(s, 0u);
  j[s + 200] = 0xFF;  // a stray marker in the middle of the scan
  j[s + 201] = 0xD9;
  EXPECT_NE(bad_sample_message(dec, j).find("Corrupt JPEG data: premature end of data segment"), std::string::npos)
      << bad_sample_message(dec, j);
  // A restart marker out of sequence.
  auto k = sample::make_jpeg({.width = 200, .height = 150, .restart_markers = true, .seed = 2});
  size_t rst = 0;
  for (size_t i = scan_start(k); i + 1 < k.size(); ++i)
    if (k[i] == 0xFF && k[i + 1] == 0xD2) {
      rst = i;
      break;
    }
  ASSERT_GT(rst, 0u);
  k[rst + 1] = 0xD6;
  EXPECT_NE(bad_sample_message(dec, k).find("instead of RST"), std::string::npos) << bad_sample_message(dec, k);
}

TEST(JpegDecoder, PngAndTextNamedJpgAreBadSamples) {
  JpegDecoder dec;
  const std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
  EXPECT_NE(bad_sample_message(dec, png).find("Not a JPEG file"), std::string::npos);
  const std::string text = "this is not an image\n";
  EXPECT_NE(bad_sample_message(dec, {text.begin(), text.end()}).find("Not a JPEG file"), std::string::npos);
}

TEST(JpegDecoder, DecoderIsReusableAfterAnError) {
  JpegDecoder dec;
  auto bad = good_jpeg();
  bad.resize(bad.size() / 3);
  const auto good = good_jpeg();
  for (int i = 0; i < 3; ++i) {
    EXPECT_THROW(
        {
          dec.read_header(bad.data(), bad.size(), {});
          dec.decode({});
        },
        BadSample);
    DecodedImage img;
    full_decode(dec, good, &img);
    EXPECT_EQ(img.width, 200);
  }
}

TEST(JpegDecoder, DecompressionBombIsRejectedAtTheHeaderBeforeAllocating) {
  JpegDecoder dec;
  auto j = good_jpeg();
  // Patch SOF0's height and width to 60000 x 60000 (3.6 billion pixels).
  size_t sof = 0;
  for (size_t i = 2; i + 9 < j.size(); ++i)
    if (j[i] == 0xFF && j[i + 1] == 0xC0) {
      sof = i;
      break;
    }
  ASSERT_GT(sof, 0u);
  j[sof + 5] = 0xEA, j[sof + 6] = 0x60, j[sof + 7] = 0xEA, j[sof + 8] = 0x60;
  try {
    dec.read_header(j.data(), j.size(), {});
    FAIL() << "no BadSample";
  } catch (const BadSample& e) {
    EXPECT_NE(std::string(e.what()).find("60000x60000"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("178956970"), std::string::npos) << e.what();
  }
  const auto small = good_jpeg();
  EXPECT_THROW(dec.read_header(small.data(), small.size(), {.max_pixels = 200 * 150 - 1}), BadSample);
  EXPECT_NO_THROW(dec.read_header(small.data(), small.size(), {.max_pixels = 200 * 150}));
}

TEST(JpegDecoder, BenignWarningsAreCountedNotFatal) {
  JpegDecoder dec;
  auto j = good_jpeg();
  // Garbage before the SOS marker: "Corrupt JPEG data: 4 extraneous bytes before marker 0xda".
  size_t sos = 0;
  for (size_t i = 2; i + 1 < j.size(); ++i)
    if (j[i] == 0xFF && j[i + 1] == 0xDA) {
      sos = i;
      break;
    }
  ASSERT_GT(sos, 0u);
  j.insert(j.begin() + static_cast<std::ptrdiff_t>(sos), {1, 2, 3, 4});
  DecodedImage img;
  full_decode(dec, j, &img);
  EXPECT_EQ(img.width, 200);
  EXPECT_EQ(dec.warnings(), 1);
}

TEST(JpegDecoder, DataLossIsCountedInsteadOfThrownWhenAsked) {
  JpegDecoder dec;
  auto j = good_jpeg();
  j.resize(j.size() * 3 / 4);
  DecodedImage img;
  full_decode(dec, j, &img, {.fail_on_data_loss = false});
  EXPECT_GE(dec.warnings(), 1);
}

TEST(JpegDecoder, ExifOrientationIsReadOnlyWhenAsked) {
  JpegDecoder dec;
  for (int o = 1; o <= 8; ++o) {
    const auto j = sample::make_jpeg({.width = 40, .height = 30, .exif_orientation = o, .seed = 1});
    EXPECT_EQ(dec.read_header(j.data(), j.size(), {.exif_orientation = true}).orientation, o);
    EXPECT_EQ(dec.read_header(j.data(), j.size(), {}).orientation, 1);
  }
}

}  // namespace
}  // namespace ferry::transforms
