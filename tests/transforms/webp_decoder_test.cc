#include "transforms/webp_decoder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include "base/error.h"
#include "tests/transforms/test_util.h"
#include "tools/gen_sample/sample_webp.h"

namespace ferry::transforms {
namespace {

using sample::WebpKind;
using sample::WebpOptions;
using testing::pillow;
using testing::TempDir;

std::string bad_sample_message(WebpDecoder& dec, const std::vector<uint8_t>& webp, int64_t max_pixels = 1 << 30) {
  try {
    dec.read_header(webp.data(), webp.size(), max_pixels);
    dec.decode(PixelFormat::kRgb);
  } catch (const BadSample& e) {
    return e.what();
  }
  return "(no BadSample)";
}

TEST(WebpDecoder, LossyLosslessAlphaAndAnimationsDecodeExactlyAsPillow) {
  SKIP_WITHOUT_PILLOW();
  TempDir dir;
  struct Case {
    std::string what, path;
    PixelFormat format;
    int channels;
  };
  std::vector<Case> cases;
  std::string jobs;
  int n = 0;
  for (WebpKind kind : {WebpKind::kLossy, WebpKind::kLossless, WebpKind::kAnimated})
    for (bool alpha : {false, true}) {
      const WebpOptions o{
          .width = 61 + 13 * n, .height = 43 + 7 * n, .kind = kind, .alpha = alpha, .seed = static_cast<uint64_t>(n)};
      const std::string path = (dir.path() / ("w" + std::to_string(n++) + ".webp")).string();
      testing::write_file(path, sample::make_webp(o));
      const std::string what = std::string(kind == WebpKind::kLossy      ? "lossy"
                                           : kind == WebpKind::kLossless ? "lossless"
                                                                         : "animated") +
                               (alpha ? " with alpha" : "");
      for (auto [format, mode, channels] :
           {std::tuple{PixelFormat::kRgb, "RGB", 3}, std::tuple{PixelFormat::kGray, "L", 1},
            std::tuple{PixelFormat::kRgba, "RGBA", 4}}) {
        cases.push_back({what + " as " + mode, path, format, channels});
        jobs += path + " " + mode + " decode\n";
      }
    }
  const auto ref = pillow(dir, jobs);
  ASSERT_FALSE(ref.empty()) << "pillow_reference.py failed";
  WebpDecoder dec;
  size_t offset = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const auto webp = testing::read_file(c.path);
    const WebpHeader h = dec.read_header(webp.data(), webp.size(), 1 << 30);
    const DecodedImage img = dec.decode(c.format);
    ASSERT_EQ(img.channels, c.channels);
    const size_t bytes = img.stride * static_cast<size_t>(img.height);
    ASSERT_LE(offset + bytes, ref.size());
    EXPECT_EQ(std::vector<uint8_t>(img.pixels, img.pixels + bytes),
              std::vector<uint8_t>(ref.begin() + static_cast<ptrdiff_t>(offset),
                                   ref.begin() + static_cast<ptrdiff_t>(offset + bytes)));
    offset += bytes;
    EXPECT_EQ(h.animated, c.what.find("animated") == 0);
  }
  EXPECT_EQ(offset, ref.size());
}

TEST(WebpDecoder, AnAnimationGivesItsFirstFrame) {
  // The first frame of an animation equals the same picture encoded alone (lossless: exact).
  const auto still =
      sample::make_webp({.width = 40, .height = 30, .kind = WebpKind::kLossy, .quality = 100, .seed = 5});
  const auto anim =
      sample::make_webp({.width = 40, .height = 30, .kind = WebpKind::kAnimated, .quality = 100, .seed = 5});
  WebpDecoder a, b;
  a.read_header(still.data(), still.size(), 1 << 30);
  b.read_header(anim.data(), anim.size(), 1 << 30);
  const DecodedImage x = a.decode(PixelFormat::kRgb), y = b.decode(PixelFormat::kRgb);
  ASSERT_EQ(x.width, y.width);
  ASSERT_EQ(x.height, y.height);
  double sum = 0;
  for (size_t i = 0; i < x.stride * 30; ++i) sum += std::abs(int{x.pixels[i]} - int{y.pixels[i]});
  EXPECT_LT(sum / static_cast<double>(x.stride * 30), 3.0) << "the first frame is not the first picture";
}

TEST(WebpDecoder, TruncatedCorruptAndForeignInputsAreBadSamples) {
  WebpDecoder dec;
  for (WebpKind kind : {WebpKind::kLossy, WebpKind::kLossless, WebpKind::kAnimated}) {
    const auto webp = sample::make_webp({.width = 90, .height = 70, .kind = kind, .seed = 3});
    for (size_t cut : {size_t{0}, size_t{11}, size_t{20}, size_t{40}, webp.size() / 2, webp.size() - 10}) {
      auto t = webp;
      t.resize(cut);
      EXPECT_NE(bad_sample_message(dec, t).find("WebP decode failed"), std::string::npos)
          << "kind " << int(kind) << " cut at " << cut;
    }
    auto garbage = webp;
    for (size_t i = 40; i < garbage.size(); i += 3) garbage[i] = static_cast<uint8_t>(garbage[i] * 37 + 11);
    const std::string m = bad_sample_message(dec, garbage);
    // Random bytes inside a lossy stream may still decode (VP8 has no checksum); they must never crash.
    EXPECT_TRUE(m == "(no BadSample)" || m.find("WebP decode failed") != std::string::npos) << m;
  }
  const std::vector<uint8_t> riff_only = {'R', 'I', 'F', 'F', 4, 0, 0, 0, 'W', 'E', 'B', 'P'};
  EXPECT_NE(bad_sample_message(dec, riff_only).find("WebP decode failed"), std::string::npos);
}

TEST(WebpDecoder, ThePixelLimitIsCheckedOnTheHeader) {
  WebpDecoder dec;
  const auto webp = sample::make_webp({.width = 300, .height = 200});
  const std::string m = bad_sample_message(dec, webp, 300 * 200 - 1);
  EXPECT_NE(m.find("over the limit of 59999"), std::string::npos) << m;
  EXPECT_EQ(bad_sample_message(dec, webp, 300 * 200), "(no BadSample)");
}

}  // namespace
}  // namespace ferry::transforms
