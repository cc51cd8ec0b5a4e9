#include "transforms/image_pipeline.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "base/error.h"
#include "tests/transforms/test_util.h"
#include "tools/gen_sample/sample_data.h"
#include "transforms/crop.h"
#include "transforms/detail/resample.h"
#include "transforms/jpeg_decoder.h"

namespace ferry::transforms {
namespace {

using sample::Subsampling;
using testing::diff;
using testing::TempDir;

using testing::pillow;

std::string fmt(double v) { return testing::exact_text(v); }

// Our full-resolution path: whole-image decode, then one resample of `box`.
std::vector<uint8_t> ours_full_resolution(const std::vector<uint8_t>& jpeg, const CropBox& box, int out_w, int out_h,
                                          bool gray) {
  JpegDecoder dec;
  const JpegHeader h = dec.read_header(jpeg.data(), jpeg.size(), {.grayscale = gray});
  const DecodedImage img = dec.decode({});
  detail::AxisWeights ax, ay;
  ax.compute(box.x, box.width, h.width, out_w);
  ay.compute(box.y, box.height, h.height, out_h);
  detail::OutputFormat f;
  f.dtype = DType::kUInt8;
  f.chw = false;
  f.channels = gray ? 1 : 3;
  std::vector<uint8_t> out(static_cast<size_t>(out_w * out_h * f.channels));
  std::vector<float> scratch;
  detail::resample(img.pixels, img.stride, img.channels, img.x, img.y, ax, ay, f, out.data(), scratch);
  return out;
}

struct TestImage {
  std::string name;
  sample::JpegOptions options;
};

std::vector<TestImage> test_images() {
  return {{"420", {.width = 417, .height = 311, .subsampling = Subsampling::k420, .seed = 1}},
          {"444", {.width = 300, .height = 400, .subsampling = Subsampling::k444, .seed = 2}},
          {"422 progressive",
           {.width = 353, .height = 260, .subsampling = Subsampling::k422, .progressive = true, .seed = 3}},
          {"gray", {.width = 280, .height = 333, .subsampling = Subsampling::kGray, .seed = 4}},
          {"cmyk",
           {.width = 250,
            .height = 250,
            .subsampling = Subsampling::k444,
            .color_model = sample::ColorModel::kCmyk,
            .seed = 5}}};
}

TEST(ImagePipeline, FullResolutionCropAndResizeMatchesPillow) {
  SKIP_WITHOUT_PILLOW();
  TempDir dir;
  struct Case {
    size_t image;
    CropBox box;
    int w, h;
    bool gray;
  };
  std::vector<Case> cases;
  std::string jobs;
  const auto images = test_images();
  for (size_t i = 0; i < images.size(); ++i) {
    const auto& o = images[i].options;
    testing::write_file(dir.path() / (std::to_string(i) + ".jpg"), sample::make_jpeg(o));
    const double W = o.width, H = o.height;
    const std::vector<std::pair<CropBox, std::pair<int, int>>> boxes = {
        {{0, 0, W, H}, {224, 224}},                      // whole image, downscale
        {{10, 20, 150, 120}, {224, 224}},                // upscale
        {{W / 7, H / 5, W / 2, H / 1.7}, {64, 48}},      // fractional box, strong downscale
        {{3, 1, W - 4, H - 2}, {W * 0.9, H * 0.9}},      // mild downscale
        {{W - 40, H - 30, 40, 30}, {40, 30}},            // identity at the edge
        {{W * 0.25, H * 0.3, 61.5, 77.25}, {224, 224}},  // fractional upscale
    };
    for (const auto& [box, size] : boxes)
      for (bool gray : {false, true}) {
        cases.push_back({i, box, size.first, size.second, gray});
        jobs += (dir.path() / (std::to_string(i) + ".jpg")).string() + (gray ? " L" : " RGB") + " resize_box " +
                std::to_string(size.first) + " " + std::to_string(size.second) + " " + fmt(box.x) + " " + fmt(box.y) +
                " " + fmt(box.x + box.width) + " " + fmt(box.y + box.height) + "\n";
      }
  }
  const auto ref = pillow(dir, jobs);
  size_t offset = 0;
  double worst_mean = 0;
  int worst_max = 0;
  for (const Case& c : cases) {
    const auto jpeg = testing::read_file(dir.path() / (std::to_string(c.image) + ".jpg"));
    // Grayscale: Pillow's L from RGB and libjpeg's Y differ by rounding only.
    const auto ours = ours_full_resolution(jpeg, c.box, c.w, c.h, c.gray);
    ASSERT_LE(offset + ours.size(), ref.size());
    const auto d = diff(ours.data(), ref.data() + offset, ours.size());
    offset += ours.size();
    SCOPED_TRACE(images[c.image].name + (c.gray ? " as L" : "") + " box " + fmt(c.box.x) + "," + fmt(c.box.y) + " " +
                 fmt(c.box.width) + "x" + fmt(c.box.height) + " -> " + std::to_string(c.w) + "x" + std::to_string(c.h));
    EXPECT_LE(d.mean, 1.0);
    EXPECT_LE(d.max, 8);
    worst_mean = std::max(worst_mean, d.mean);
    worst_max = std::max(worst_max, d.max);
  }
  EXPECT_EQ(offset, ref.size());
  std::printf("full resolution vs Pillow: worst mean abs error %.3f, worst max %d\n", worst_mean, worst_max);
}

TEST(ImagePipeline, DctScaledTrainAndValMatchPillowWithinTolerance) {
  SKIP_WITHOUT_PILLOW();
  TempDir dir;
  std::string jobs;
  std::vector<std::vector<uint8_t>> ours;
  std::vector<std::string> what;
  int scaled = 0;
  PipelineSpec train = PipelineSpec::named("train_u8");
  train.flip_p = 0;
  const ImagePipeline train_p(train), val_p(PipelineSpec::named("val_u8"));
  for (int i = 0; i < 6; ++i) {
    const sample::JpegOptions o{.width = 500 + 97 * i,
                                .height = 375 + 61 * i,
                                .subsampling = i % 2 ? Subsampling::k444 : Subsampling::k420,
                                .seed = 10u + i};
    const auto jpeg = sample::make_jpeg(o);
    const auto path = (dir.path() / (std::to_string(i) + ".jpg")).string();
    testing::write_file(path, jpeg);
    for (uint64_t seed = 0; seed < 4; ++seed) {
      Rng rng(seed), copy(seed);
      const CropBox box = RandomResizedCrop{}.sample(o.width, o.height, copy);
      std::vector<uint8_t> out(train_p.output_bytes());
      DecodeReport report;
      train_p.run(jpeg.data(), jpeg.size(), rng, out.data(), &report);
      scaled += report.dct_scale_num < 8;
      ours.push_back(out);
      what.push_back("train image " + std::to_string(i) + " seed " + std::to_string(seed) + " scale " +
                     std::to_string(report.dct_scale_num) + "/8");
      jobs += path + " RGB resize_box 224 224 " + fmt(box.x) + " " + fmt(box.y) + " " + fmt(box.x + box.width) + " " +
              fmt(box.y + box.height) + "\n";
    }
    // val: torchvision Resize(256) + CenterCrop(224) on the PIL image.
    const int shorter = std::min(o.width, o.height), longer = std::max(o.width, o.height);
    const int new_long = static_cast<int>(256.0 * longer / shorter);
    const int rw = o.width <= o.height ? 256 : new_long, rh = o.width <= o.height ? new_long : 256;
    const int left = static_cast<int>(std::nearbyint((rw - 224) / 2.0));
    const int top = static_cast<int>(std::nearbyint((rh - 224) / 2.0));
    std::vector<uint8_t> out(val_p.output_bytes());
    Rng rng(0);
    DecodeReport report;
    val_p.run(jpeg.data(), jpeg.size(), rng, out.data(), &report);
    scaled += report.dct_scale_num < 8;
    ours.push_back(out);
    what.push_back("val image " + std::to_string(i) + " scale " + std::to_string(report.dct_scale_num) + "/8");
    jobs += path + " RGB resize_crop " + std::to_string(rw) + " " + std::to_string(rh) + " " + std::to_string(left) +
            " " + std::to_string(top) + " 224\n";
  }
  const auto ref = pillow(dir, jobs);
  ASSERT_EQ(ref.size(), ours.size() * 224 * 224 * 3);
  double worst_mean = 0;
  for (size_t k = 0; k < ours.size(); ++k) {
    const auto d = diff(ours[k].data(), ref.data() + k * 224 * 224 * 3, 224 * 224 * 3);
    EXPECT_LE(d.mean, 2.5) << what[k] << " max " << d.max;
    worst_mean = std::max(worst_mean, d.mean);
  }
  std::printf("DCT-scaled train/val vs Pillow: worst mean abs error %.3f over %zu images (%d scaled)\n", worst_mean,
              ours.size(), scaled);
  EXPECT_GE(scaled, 10) << "the DCT-scaled path was hardly exercised";
}

// --- crop parameters -----------------------------------------------------------

TEST(RandomResizedCrop, SameRngGivesSameBoxAndOutput) {
  const RandomResizedCrop rrc;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    Rng a(seed), b(seed);
    EXPECT_EQ(rrc.sample(500, 375, a), rrc.sample(500, 375, b));
  }
  const auto jpeg = sample::make_jpeg({.width = 400, .height = 300, .seed = 1});
  const ImagePipeline p(PipelineSpec::named("train"));
  std::vector<uint8_t> x(p.output_bytes()), y(p.output_bytes()), z(p.output_bytes());
  Rng r1 = Rng::for_sample(1, 2, 3), r2 = Rng::for_sample(1, 2, 3), r3 = Rng::for_sample(1, 2, 4);
  p.run(jpeg.data(), jpeg.size(), r1, x.data());
  p.run(jpeg.data(), jpeg.size(), r2, y.data());
  p.run(jpeg.data(), jpeg.size(), r3, z.data());
  EXPECT_EQ(x, y);
  EXPECT_NE(x, z);
}

TEST(RandomResizedCrop, BoxesStayInsideAndRespectScaleAndRatio) {
  const RandomResizedCrop rrc;
  Rng rng(1);
  for (int i = 0; i < 2000; ++i) {
    const CropBox b = rrc.sample(500, 375, rng);
    ASSERT_GE(b.x, 0);
    ASSERT_GE(b.y, 0);
    ASSERT_LE(b.x + b.width, 500);
    ASSERT_LE(b.y + b.height, 375);
    ASSERT_EQ(b.x, std::floor(b.x));
    const double area = b.width * b.height / (500.0 * 375);
    EXPECT_GE(area, 0.07);
    const double ratio = b.width / b.height;
    EXPECT_GE(ratio, 0.70);
    EXPECT_LE(ratio, 1.40);
  }
}

TEST(RandomResizedCrop, FallsBackToTheCentralCropAfterTenAttempts) {
  const RandomResizedCrop rrc{0.9, 1.0, 3.0 / 4, 4.0 / 3};
  Rng rng(0);
  // 1000x10: no box of 90% area has a ratio in [3/4, 4/3]; torchvision's fallback
  // keeps the full height and w = round(10 * 4/3) = 13, centered.
  EXPECT_EQ(rrc.sample(1000, 10, rng), (CropBox{493, 0, 13, 10}));
  EXPECT_EQ(rrc.sample(10, 1000, rng), (CropBox{0, 493, 10, 13}));
  EXPECT_EQ(RandomResizedCrop({1.0, 1.0, 1.0, 1.0}).sample(300, 300, rng), (CropBox{0, 0, 300, 300}));
}

TEST(ResizeCenterCrop, BoxFollowsTorchvisionArithmetic) {
  // 500x375 -> Resize(256) gives 341x256 (int(256*500/375)); CenterCrop(224) at
  // left round(58.5) = 58 (half to even), top 16.
  const CropBox b = resize_center_crop_box(500, 375, 256, 224);
  EXPECT_DOUBLE_EQ(b.x, 58 * 500.0 / 341);
  EXPECT_DOUBLE_EQ(b.y, 16 * 375.0 / 256);
  EXPECT_DOUBLE_EQ(b.width, 224 * 500.0 / 341);
  EXPECT_DOUBLE_EQ(b.height, 224 * 375.0 / 256);
}

// --- output formats ------------------------------------------------------------

std::vector<uint8_t> run_bytes(const PipelineSpec& spec, const std::vector<uint8_t>& jpeg, uint64_t seed) {
  const ImagePipeline p(spec);
  std::vector<uint8_t> out(p.output_bytes());
  Rng rng(seed);
  p.run(jpeg.data(), jpeg.size(), rng, out.data());
  return out;
}

template <typename T>
std::vector<T> as(const std::vector<uint8_t>& bytes) {
  std::vector<T> v(bytes.size() / sizeof(T));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(T));
  return v;
}

const std::vector<uint8_t>& photo() {
  static const auto jpeg = sample::make_jpeg({.width = 480, .height = 360, .seed = 21});
  return jpeg;
}

TEST(ImagePipeline, FlipMirrorsTheImageLeftToRight) {
  PipelineSpec spec = PipelineSpec::named("train_u8", 64);
  spec.flip_p = 0;
  const auto plain = run_bytes(spec, photo(), 7);
  spec.flip_p = 1;
  const auto flipped = run_bytes(spec, photo(), 7);
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x)
      for (int c = 0; c < 3; ++c)
        ASSERT_EQ(flipped[static_cast<size_t>((y * 64 + x) * 3 + c)],
                  plain[static_cast<size_t>((y * 64 + 63 - x) * 3 + c)]);
}

TEST(ImagePipeline, NormalizeAppliesMeanAndStdPerChannel) {
  PipelineSpec u8 = PipelineSpec::named("val_u8", 96);
  PipelineSpec f32 = PipelineSpec::named("val", 96);
  f32.mean = {0.5f, 0.4f, 0.3f};
  f32.std = {0.2f, 0.25f, 0.3f};
  const auto a = run_bytes(u8, photo(), 0);
  const auto b = as<float>(run_bytes(f32, photo(), 0));
  ASSERT_EQ(b.size(), 3u * 96 * 96);
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 96 * 96; ++i) {
      const float expect = (a[static_cast<size_t>(i * 3 + c)] / 255.0f - f32.mean[c]) / f32.std[c];
      ASSERT_NEAR(b[static_cast<size_t>(c * 96 * 96 + i)], expect, 0.51f / 255 / f32.std[c] + 1e-5f);
    }
}

TEST(ImagePipeline, HalfAndBfloat16AreTheRoundedFloat32Output) {
  PipelineSpec spec = PipelineSpec::named("val", 80);
  const auto f = as<float>(run_bytes(spec, photo(), 0));
  spec.dtype = DType::kFloat16;
  const auto h = as<uint16_t>(run_bytes(spec, photo(), 0));
  spec.dtype = DType::kBFloat16;
  const auto bf = as<uint16_t>(run_bytes(spec, photo(), 0));
  ASSERT_EQ(h.size(), f.size());
  for (size_t i = 0; i < f.size(); ++i) {
    ASSERT_EQ(h[i], detail::float_to_half(f[i]));
    ASSERT_EQ(bf[i], detail::float_to_bfloat16(f[i]));
  }
}

TEST(ImagePipeline, HalfConversionRoundsToNearestEven) {
  for (float v : {0.0f, 1.0f, -2.5f, 65504.0f, 1e-7f, 3.14159f, -0.33333f, 1e6f, 6.1e-5f}) {
    const _Float16 ref = static_cast<_Float16>(v);
    uint16_t bits;
    std::memcpy(&bits, &ref, 2);
    EXPECT_EQ(detail::float_to_half(v), bits) << v;
  }
  EXPECT_EQ(detail::float_to_bfloat16(1.0f), 0x3F80);
  EXPECT_EQ(detail::float_to_bfloat16(1.00390625f), 0x3F80);  // tie -> even
  EXPECT_EQ(detail::float_to_bfloat16(1.01171875f), 0x3F82);  // tie -> even (up)
}

TEST(ImagePipeline, HwcIsTheTransposeOfChw) {
  PipelineSpec spec = PipelineSpec::named("train", 50);
  const auto chw = as<float>(run_bytes(spec, photo(), 3));
  spec.layout = Layout::kHWC;
  const auto hwc = as<float>(run_bytes(spec, photo(), 3));
  EXPECT_EQ(ImagePipeline(spec).output_shape(), (std::vector<int64_t>{50, 50, 3}));
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 50 * 50; ++i)
      ASSERT_EQ(chw[static_cast<size_t>(c * 2500 + i)], hwc[static_cast<size_t>(i * 3 + c)]);
}

TEST(ImagePipeline, GrayscaleSpecGivesOneChannel) {
  PipelineSpec spec = PipelineSpec::named("val", 32);
  spec.grayscale = true;
  const ImagePipeline p(spec);
  EXPECT_EQ(p.output_shape(), (std::vector<int64_t>{1, 32, 32}));
  EXPECT_EQ(p.output_bytes(), 32u * 32 * 4);
  EXPECT_EQ(run_bytes(spec, photo(), 0).size(), p.output_bytes());
}

TEST(ImagePipeline, GrayJpegGivesThreeEqualChannels) {
  const auto jpeg = sample::make_jpeg({.width = 300, .height = 200, .subsampling = Subsampling::kGray, .seed = 3});
  const auto out = run_bytes(PipelineSpec::named("train_u8", 40), jpeg, 1);
  for (size_t i = 0; i < out.size(); i += 3) {
    ASSERT_EQ(out[i], out[i + 1]);
    ASSERT_EQ(out[i], out[i + 2]);
  }
}

TEST(ImagePipeline, ExifOrientationRotatesTheImageOnlyWhenAsked) {
  // Orientation 6: the stored image is shown rotated 90 degrees clockwise.
  const auto plain = sample::make_jpeg({.width = 64, .height = 48, .subsampling = Subsampling::k444, .seed = 8});
  const auto tagged = sample::make_jpeg(
      {.width = 64, .height = 48, .subsampling = Subsampling::k444, .exif_orientation = 6, .seed = 8});
  PipelineSpec spec = PipelineSpec::named("decode", 48);  // 48: no DCT scaling on either path;
  const auto ref = run_bytes(spec, plain, 0);
  EXPECT_EQ(run_bytes(spec, tagged, 0), ref);
  spec.exif_orientation = true;
  const auto rotated = run_bytes(spec, tagged, 0);
  int max = 0;
  for (int y = 0; y < 48; ++y)
    for (int x = 0; x < 48; ++x)
      for (int c = 0; c < 3; ++c) {
        // displayed (x, y) shows stored (y, H-1-x)
        const int a = rotated[static_cast<size_t>((y * 48 + x) * 3 + c)];
        const int b = ref[static_cast<size_t>(((47 - x) * 48 + y) * 3 + c)];
        max = std::max(max, std::abs(a - b));
      }
  EXPECT_LE(max, 1);
}

TEST(ImagePipeline, BadInputThrowsBadSampleWithoutAPath) {
  const ImagePipeline p(PipelineSpec::named("train"));
  std::vector<uint8_t> out(p.output_bytes());
  Rng rng(0);
  auto truncated = photo();
  truncated.resize(truncated.size() / 2);
  for (const auto& bytes : {std::vector<uint8_t>{}, truncated, std::vector<uint8_t>{'G', 'I', 'F', '8', '9', 'a'}}) {
    try {
      p.run(bytes.data(), bytes.size(), rng, out.data());
      ADD_FAILURE() << "no BadSample";
    } catch (const BadSample& e) {
      EXPECT_EQ(std::string(e.what()).find("/"), std::string::npos) << e.what();
    }
  }
}

TEST(ImagePipeline, RunIsThreadSafeAndGivesTheSameBytesOnEveryThread) {
  const ImagePipeline p(PipelineSpec::named("train", 64));
  std::vector<std::vector<uint8_t>> jpegs;
  for (int i = 0; i < 6; ++i)
    jpegs.push_back(
        sample::make_jpeg({.width = 200 + 31 * i, .height = 180 + 17 * i, .seed = static_cast<uint64_t>(i)}));
  auto run_all = [&](std::vector<uint8_t>& out) {
    out.resize(p.output_bytes() * jpegs.size() * 3);
    for (int round = 0; round < 3; ++round)
      for (size_t i = 0; i < jpegs.size(); ++i) {
        Rng rng = Rng::for_sample(0, 0, i);
        p.run(jpegs[i].data(), jpegs[i].size(), rng, out.data() + (round * jpegs.size() + i) * p.output_bytes());
      }
  };
  std::vector<uint8_t> expect;
  run_all(expect);
  std::vector<std::vector<uint8_t>> got(3);
  std::vector<std::thread> threads;
  for (auto& g : got) threads.emplace_back([&] { run_all(g); });
  for (auto& t : threads) t.join();
  for (const auto& g : got) EXPECT_EQ(g, expect);
}

TEST(ImagePipeline, ReportGivesTheDctScaleAndWarnings) {
  const ImagePipeline p(PipelineSpec::named("val_u8"));
  const auto big = sample::make_jpeg({.width = 1200, .height = 900, .seed = 1});
  std::vector<uint8_t> out(p.output_bytes());
  Rng rng(0);
  DecodeReport r;
  p.run(big.data(), big.size(), rng, out.data(), &r);
  // The crop is 787.5 source rows high: 787.5*2/8 < 224 <= 787.5*3/8, and the
  // pipeline picks among the SIMD scales 1/8, 2/8, 4/8, 8/8.
  EXPECT_EQ(r.dct_scale_num, 4);
  EXPECT_EQ(r.warnings, 0);
}

// --- spec ----------------------------------------------------------------------

TEST(PipelineSpec, NamedPipelinesHaveTheDocumentedDefaults) {
  const auto train = PipelineSpec::named("train");
  EXPECT_EQ(train.dtype, DType::kFloat32);
  EXPECT_EQ(train.layout, Layout::kCHW);
  const auto val = PipelineSpec::named("val", 160);
  EXPECT_EQ(val.resize_size, 183);
  const auto u8 = PipelineSpec::named("train_u8");
  EXPECT_EQ(u8.dtype, DType::kUInt8);
  EXPECT_EQ(u8.layout, Layout::kHWC);
  EXPECT_EQ(ImagePipeline(u8).output_bytes(), 224u * 224 * 3);
  EXPECT_EQ(ImagePipeline(train).output_shape(), (std::vector<int64_t>{3, 224, 224}));
  EXPECT_EQ(ImagePipeline(train).output_bytes(), 224u * 224 * 3 * 4);
}

TEST(PipelineSpec, UnknownNameListsTheValidNames) {
  try {
    PipelineSpec::named("training");
    FAIL();
  } catch (const InvalidOption& e) {
    EXPECT_NE(std::string(e.what()).find("train, val, train_u8, val_u8, decode"), std::string::npos) << e.what();
  }
}

TEST(PipelineSpec, ValidateNamesTheBadField) {
  auto expect_field = [](PipelineSpec s, const std::string& field) {
    try {
      s.validate();
      ADD_FAILURE() << "no InvalidOption for " << field;
    } catch (const InvalidOption& e) {
      EXPECT_NE(std::string(e.what()).find("PipelineSpec." + field), std::string::npos) << e.what();
    }
  };
  PipelineSpec s;
  s.size = 0;
  expect_field(s, "size");
  s = PipelineSpec::named("val");
  s.resize_size = 200;
  expect_field(s, "resize_size");
  s = {};
  s.scale_min = 0;
  expect_field(s, "scale_min");
  s = {};
  s.ratio_max = 0.5;
  expect_field(s, "ratio_min");
  s = {};
  s.flip_p = 1.5;
  expect_field(s, "flip_p");
  s = {};
  s.std[1] = 0;
  expect_field(s, "std");
  s = {};
  s.dtype = DType::kInt64;
  expect_field(s, "dtype");
  s = {};
  s.max_pixels = 0;
  expect_field(s, "max_pixels");
  EXPECT_THROW(ImagePipeline{s}, InvalidOption);
}

}  // namespace
}  // namespace ferry::transforms
