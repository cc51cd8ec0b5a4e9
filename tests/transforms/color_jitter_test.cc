// ColorJitter and RandomGrayscale: torchvision's parameter ranges, draw order
// and maths (against torchvision's functional ops when it is installed), and
// the bytes of pipelines without colour augmentation left as they were.
#include "transforms/color_jitter.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "base/error.h"
#include "tests/transforms/test_util.h"
#include "tools/gen_sample/sample_data.h"
#include "tools/gen_sample/sample_png.h"
#include "transforms/image_pipeline.h"

namespace ferry::transforms {
namespace {

using testing::TempDir;

// A float 0..255 HWC output, so the comparison sees the values before rounding.
PipelineSpec float_spec(int size) {
  PipelineSpec s = PipelineSpec::named("train_u8", size);
  s.dtype = DType::kFloat32;
  return s;
}

std::vector<float> run_f32(const PipelineSpec& spec, const std::vector<uint8_t>& bytes, uint64_t seed,
                           DecodeReport* report = nullptr) {
  const ImagePipeline p(spec);
  std::vector<float> out(p.output_bytes() / sizeof(float));
  Rng rng = Rng::for_sample(seed, 0, 0);
  p.run(bytes.data(), bytes.size(), rng, out.data(), report);
  return out;
}

TEST(ColorJitter, StrengthsBecomeTorchvisionsRanges) {
  const ColorJitter j = ColorJitter::from_strengths(0.4, 1.5, 0, 0.1);
  EXPECT_EQ(j.brightness, (JitterRange{0.6, 1.4}));
  EXPECT_EQ(j.contrast, (JitterRange{0.0, 2.5}));  // max(0, 1 - 1.5)
  EXPECT_EQ(j.saturation, (JitterRange{1, 1}));    // 0: off
  EXPECT_EQ(j.hue, (JitterRange{-0.1, 0.1}));
  EXPECT_TRUE(j.enabled());
  EXPECT_FALSE(ColorJitter::from_strengths(0, 0, 0, 0).enabled());
  EXPECT_THROW(ColorJitter::from_strengths(-0.1, 0, 0, 0), InvalidOption);
  EXPECT_THROW(ColorJitter::from_strengths(0, 0, 0, 0.6), InvalidOption);
}

TEST(ColorJitter, ValidateNamesTheField) {
  ColorJitter j;
  j.hue = {-0.6, 0.1};
  try {
    j.validate("PipelineSpec.color_jitter");
    FAIL() << "no InvalidOption";
  } catch (const InvalidOption& e) {
    EXPECT_NE(std::string(e.what()).find("PipelineSpec.color_jitter.hue"), std::string::npos) << e.what();
  }
  j = {};
  j.contrast = {1.2, 0.8};
  EXPECT_THROW(j.validate("x"), InvalidOption);
  PipelineSpec s;
  s.grayscale_p = 1.5;
  EXPECT_THROW(s.validate(), InvalidOption);
  s = {};
  s.keep_alpha = s.grayscale = true;
  EXPECT_THROW(s.validate(), InvalidOption);
}

TEST(ColorJitter, DrawsStayInTheirRangesAndEveryOrderIsEquallyLikely) {
  const ColorJitter j = ColorJitter::from_strengths(0.4, 0.3, 0.2, 0.1);
  std::map<std::array<ColorOp, 4>, int> orders;
  int gray = 0;
  constexpr int kDraws = 24000;
  for (uint64_t i = 0; i < kDraws; ++i) {
    Rng rng = Rng::for_sample(1, 2, i);
    const ColorDraw d = draw_color(j, 0.25, rng);
    ASSERT_TRUE(d.jitter);
    ASSERT_GE(d.brightness, 0.6);
    ASSERT_LE(d.brightness, 1.4);
    ASSERT_GE(d.contrast, 0.7);
    ASSERT_LE(d.saturation, 1.2);
    ASSERT_GE(d.hue, -0.1);
    ASSERT_LE(d.hue, 0.1);
    ++orders[d.order];
    gray += d.grayscale;
  }
  ASSERT_EQ(orders.size(), 24u);
  for (const auto& [order, n] : orders) EXPECT_NEAR(n, kDraws / 24, 150) << "an order is favoured";
  EXPECT_NEAR(gray, kDraws / 4, 300);
}

TEST(ColorJitter, WhatIsOffIsNeitherDrawnNorApplied) {
  // Off everywhere: no draw at all, so the rng is where the crop and flip left it.
  Rng a(5), b(5);
  const ColorDraw d = draw_color(ColorJitter{}, 0, a);
  EXPECT_TRUE(d.identity());
  EXPECT_EQ(a.next_u64(), b.next_u64());
  // Only brightness on: 3 draws for the order and 1 for brightness.
  ColorJitter j;
  j.brightness = {0.5, 1.5};
  Rng c(5), e(5);
  const ColorDraw only = draw_color(j, 0, c);
  EXPECT_TRUE(only.on[0] && !only.on[1] && !only.on[2] && !only.on[3]);
  for (int k = 0; k < 4; ++k) e.next_u64();
  EXPECT_EQ(c.next_u64(), e.next_u64());
}

TEST(ColorJitter, APipelineWithoutColourDrawsOnlyTheCropAndTheFlip) {
  // The bytes of train without colour augmentation depend on exactly the draws they always did.
  const auto jpeg = sample::make_jpeg({.width = 400, .height = 300, .seed = 2});
  const ImagePipeline p(PipelineSpec::named("train", 64));
  std::vector<uint8_t> out(p.output_bytes());
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Rng used(seed), replay(seed);
    p.run(jpeg.data(), jpeg.size(), used, out.data());
    RandomResizedCrop{}.sample(400, 300, replay);
    random_flip(0.5, replay);
    ASSERT_EQ(used.next_u64(), replay.next_u64()) << "seed " << seed;
  }
}

TEST(ColorJitter, FactorsAtTheirLimitsDoWhatTorchvisionDoes) {
  const auto png = sample::make_png({.width = 160, .height = 120, .seed = 8});
  PipelineSpec plain = float_spec(40);
  plain.flip_p = 0;
  PipelineSpec s = plain;
  const auto base = run_f32(s, png, 1);
  // Brightness 0: black. Saturation 0: the gray image (= RandomGrayscale). Contrast 0: the mean gray everywhere.
  s.color_jitter.brightness = {0, 0};
  for (float v : run_f32(s, png, 1)) ASSERT_EQ(v, 0.0f);
  s.color_jitter = {};
  s.color_jitter.saturation = {0, 0};
  const auto desaturated = run_f32(s, png, 1);
  s.color_jitter = {};
  s.grayscale_p = 1;
  const auto grayed = run_f32(s, png, 1);
  double mean_gray = 0;
  for (size_t i = 0; i < base.size(); i += 3) {
    const float g = 0.2989f * base[i] + 0.587f * base[i + 1] + 0.114f * base[i + 2];
    mean_gray += g;
    for (int c = 0; c < 3; ++c) {
      ASSERT_NEAR(desaturated[i + static_cast<size_t>(c)], g, 1e-3);
      ASSERT_NEAR(grayed[i + static_cast<size_t>(c)], g, 1e-3);
    }
  }
  mean_gray /= static_cast<double>(base.size() / 3);
  s.grayscale_p = 0;
  s.color_jitter.contrast = {0, 0};
  for (float v : run_f32(s, png, 1)) ASSERT_NEAR(v, mean_gray, 1e-2);
  // Hue: half a turn twice is the identity; gray pixels have no hue to turn.
  s.color_jitter = {};
  s.color_jitter.hue = {0.5, 0.5};
  const auto turned = run_f32(s, png, 1);
  double moved = 0;
  for (size_t i = 0; i < base.size(); ++i) moved += std::abs(turned[i] - base[i]);
  EXPECT_GT(moved / static_cast<double>(base.size()), 5.0) << "a half turn of hue changed nothing";
  const auto gray_png = sample::make_png({.width = 160, .height = 120, .color = sample::PngColor::kGray, .seed = 8});
  const auto gray_base = run_f32(plain, gray_png, 1);
  EXPECT_EQ(run_f32(s, gray_png, 1), gray_base);
}

TEST(ColorJitter, AGrayscaleOutputGetsBrightnessAndContrastOnly) {
  const auto jpeg = sample::make_jpeg({.width = 200, .height = 150, .seed = 4});
  PipelineSpec s = float_spec(32);
  s.grayscale = true;
  const auto base = run_f32(s, jpeg, 3);
  s.color_jitter.saturation = {0, 0};
  s.color_jitter.hue = {0.3, 0.3};
  EXPECT_EQ(run_f32(s, jpeg, 3), base);
  s.color_jitter.brightness = {0.5, 0.5};
  const auto darker = run_f32(s, jpeg, 3);
  for (size_t i = 0; i < base.size(); ++i) ASSERT_NEAR(darker[i], base[i] * 0.5f, 1e-3);
}

// --- against torchvision ---------------------------------------------------------

std::string torch_python() {
  if (const char* p = std::getenv("FERRY_TORCH_PYTHON"); p && *p) return p;
  return (std::filesystem::path(FERRY_TRANSFORMS_TEST_DIR) / "../../.venv/bin/python").lexically_normal().string();
}

bool have_torchvision() {
  const std::string py = torch_python();
  if (access(py.c_str(), X_OK) != 0) return false;
  return std::system((py + " -c 'import torch, torchvision' >/dev/null 2>&1").c_str()) == 0;
}

TEST(ColorJitter, MatchesTorchvisionsFunctionalOpsWithinHalfAGrayLevel) {
  if (!have_torchvision())
    GTEST_SKIP() << torch_python()
                 << " cannot import torch and torchvision (run scripts/setup --with-torch, or set FERRY_TORCH_PYTHON)";
  TempDir dir;
  const std::vector<std::vector<uint8_t>> images = {
      sample::make_jpeg({.width = 400, .height = 300, .seed = 1}),
      sample::make_png({.width = 320, .height = 280, .color = sample::PngColor::kPalette, .seed = 2}),
      sample::make_png({.width = 300, .height = 300, .seed = 3})};
  const ColorJitter strengths[] = {ColorJitter::from_strengths(0.4, 0.4, 0.4, 0.1),
                                   ColorJitter::from_strengths(0.8, 0.8, 0.8, 0.5)};
  struct Case {
    std::vector<float> base, ours;
    std::string out;
  };
  std::vector<Case> cases;
  std::string jobs;
  int n = 0;
  for (const auto& image : images)
    for (const ColorJitter& jitter : strengths)
      for (uint64_t seed = 0; seed < 6; ++seed) {
        PipelineSpec plain = float_spec(64);
        PipelineSpec jittered = plain;
        jittered.color_jitter = jitter;
        jittered.grayscale_p = 0.3;
        DecodeReport r, rj;
        const auto base = run_f32(plain, image, seed, &r);
        const auto ours = run_f32(jittered, image, seed, &rj);
        ASSERT_EQ(r.box, rj.box);  // colour draws come after the geometry's
        const std::string in = (dir.path() / ("in" + std::to_string(n))).string();
        const std::string out = (dir.path() / ("out" + std::to_string(n++))).string();
        std::ofstream(in, std::ios::binary)
            .write(reinterpret_cast<const char*>(base.data()), static_cast<std::streamsize>(base.size() * 4));
        const ColorDraw& d = rj.color;
        jobs += in + " " + out + " 64 64 3";
        for (ColorOp op : d.order) jobs += " " + std::to_string(static_cast<int>(op));
        for (bool on : d.on) jobs += on ? " 1" : " 0";
        for (double f : {d.brightness, d.contrast, d.saturation, d.hue}) jobs += " " + testing::exact_text(f);
        jobs += d.grayscale ? " 1\n" : " 0\n";
        cases.push_back({base, ours, out});
      }
  const auto script = std::string(FERRY_TRANSFORMS_TEST_DIR) + "/torchvision_reference.py";
  const auto job_file = dir.path() / "jobs.txt";
  std::ofstream(job_file) << jobs;
  ASSERT_EQ(std::system((torch_python() + " " + script + " < " + job_file.string()).c_str()), 0);
  double worst = 0;
  int changed = 0;
  for (const Case& c : cases) {
    const auto bytes = testing::read_file(c.out);
    ASSERT_EQ(bytes.size(), c.ours.size() * 4);
    std::vector<float> theirs(c.ours.size());
    std::memcpy(theirs.data(), bytes.data(), bytes.size());
    double sum = 0, moved = 0;
    for (size_t i = 0; i < theirs.size(); ++i) {
      sum += std::abs(theirs[i] - c.ours[i]);
      moved += std::abs(theirs[i] - c.base[i]);
    }
    const double mae = sum / static_cast<double>(theirs.size());
    changed += moved / static_cast<double>(theirs.size()) > 2.0;
    EXPECT_LE(mae, 1.0) << c.out;
    worst = std::max(worst, mae);
  }
  EXPECT_GE(changed, static_cast<int>(cases.size()) * 3 / 4) << "the jitter hardly changed the images";
  std::printf("ColorJitter vs torchvision: worst mean abs error %.4f (0..255) over %zu images, %d visibly changed\n",
              worst, cases.size(), changed);
}

}  // namespace
}  // namespace ferry::transforms
