// ImagePipeline on PNG and WebP: chosen by content, cropped and resized from
// the whole decoded image within the JPEG path's bounds of Pillow, alpha on
// request, every interpolation, and every bad input a BadSample.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/error.h"
#include "tests/transforms/test_util.h"
#include "tools/gen_sample/sample_data.h"
#include "tools/gen_sample/sample_png.h"
#include "tools/gen_sample/sample_webp.h"
#include "transforms/image_pipeline.h"

namespace ferry::transforms {
namespace {

using sample::PngColor;
using sample::WebpKind;
using testing::exact_text;
using testing::pillow;
using testing::TempDir;

std::vector<uint8_t> run_u8(const PipelineSpec& spec, const std::vector<uint8_t>& bytes, uint64_t seed,
                            DecodeReport* report = nullptr) {
  const ImagePipeline p(spec);
  std::vector<uint8_t> out(p.output_bytes());
  Rng rng(seed);
  p.run(bytes.data(), bytes.size(), rng, out.data(), report);
  return out;
}

std::string box_job(const std::string& path, const char* mode, const char* op, int size, const CropBox& b) {
  return path + " " + mode + " " + op + " " + std::to_string(size) + " " + std::to_string(size) + " " +
         exact_text(b.x) + " " + exact_text(b.y) + " " + exact_text(b.x + b.width) + " " + exact_text(b.y + b.height) +
         "\n";
}

struct Encoded {
  std::string name;
  std::vector<uint8_t> bytes;
  bool gray16 = false;  // Pillow's mode I clips in convert(); compare with its high byte (HIGH8)
};

std::vector<Encoded> corpus() {
  return {{"png rgb", sample::make_png({.width = 331, .height = 257, .seed = 1})},
          {"png palette interlaced",
           sample::make_png({.width = 290, .height = 301, .color = PngColor::kPalette, .interlaced = true, .seed = 2})},
          {"png gray 16-bit",
           sample::make_png({.width = 260, .height = 240, .color = PngColor::kGray, .bit_depth = 16, .seed = 3}), true},
          {"png rgba 16-bit",
           sample::make_png({.width = 300, .height = 280, .color = PngColor::kRgba, .bit_depth = 16, .seed = 4})},
          {"webp lossy", sample::make_webp({.width = 320, .height = 250, .kind = WebpKind::kLossy, .seed = 5})},
          {"webp lossless alpha",
           sample::make_webp({.width = 270, .height = 310, .kind = WebpKind::kLossless, .alpha = true, .seed = 6})},
          {"webp animated", sample::make_webp({.width = 280, .height = 230, .kind = WebpKind::kAnimated, .seed = 7})}};
}

// The JPEG path's bounds (image_pipeline_test): mean abs error <= 1.0 and max <= 8 at full resolution.
TEST(FormatsPipeline, PngAndWebpCropAndResizeMatchPillowWithinTheJpegBounds) {
  SKIP_WITHOUT_PILLOW();
  TempDir dir;
  std::string jobs;
  std::vector<std::vector<uint8_t>> ours;
  std::vector<std::string> what;
  PipelineSpec train = PipelineSpec::named("train_u8", 96);
  PipelineSpec val = PipelineSpec::named("val_u8", 112);
  PipelineSpec gray = PipelineSpec::named("train_u8", 64);
  gray.grayscale = true;
  int n = 0;
  for (const Encoded& e : corpus()) {
    const std::string path = (dir.path() / ("f" + std::to_string(n++))).string();  // no extension: content decides
    testing::write_file(path, e.bytes);
    for (uint64_t seed = 0; seed < 3; ++seed) {
      DecodeReport r;
      ours.push_back(run_u8(train, e.bytes, seed, &r));
      // The flip is the pipeline's; Pillow's output gets mirrored below.
      what.push_back(e.name + " train seed " + std::to_string(seed) + (r.flip ? " flipped" : ""));
      jobs += box_job(path, e.gray16 ? "HIGH8" : "RGB", r.flip ? "resize_box_flip" : "resize_box", 96, r.box);
    }
    DecodeReport r;
    ours.push_back(run_u8(val, e.bytes, 0, &r));
    what.push_back(e.name + " val");
    jobs += box_job(path, e.gray16 ? "HIGH8" : "RGB", "resize_box", 112, r.box);
    ours.push_back(run_u8(gray, e.bytes, 9, &r));
    what.push_back(e.name + " gray train");
    jobs += box_job(path, e.gray16 ? "HIGH8" : "L", r.flip ? "resize_box_flip" : "resize_box", 64, r.box);
  }
  const auto ref = pillow(dir, jobs);
  ASSERT_FALSE(ref.empty()) << "pillow_reference.py failed";
  size_t offset = 0;
  double worst = 0;
  for (size_t k = 0; k < ours.size(); ++k) {
    const bool gray_job = what[k].find("gray train") != std::string::npos;
    const bool gray16 = what[k].find("gray 16-bit") != std::string::npos;
    // HIGH8 gives Pillow one channel; ours has three equal ones.
    const size_t theirs_channels = gray_job || gray16 ? 1 : 3, ours_channels = gray_job ? 1 : 3;
    const size_t pixels = ours[k].size() / ours_channels;
    ASSERT_LE(offset + pixels * theirs_channels, ref.size());
    std::vector<uint8_t> theirs(ours[k].size());
    for (size_t i = 0; i < ours[k].size(); ++i)
      theirs[i] = ref[offset + (i / ours_channels) * theirs_channels + (theirs_channels == 1 ? 0 : i % ours_channels)];
    offset += pixels * theirs_channels;
    const auto d = testing::diff(ours[k].data(), theirs.data(), ours[k].size());
    EXPECT_LE(d.mean, 1.0) << what[k];
    EXPECT_LE(d.max, 8) << what[k];
    worst = std::max(worst, d.mean);
  }
  EXPECT_EQ(offset, ref.size());
  std::printf("PNG/WebP crop+resize vs Pillow: worst mean abs error %.3f over %zu outputs\n", worst, ours.size());
}

TEST(FormatsPipeline, BicubicMatchesPillowAndNearestPicksExactlyPillowsPixels) {
  SKIP_WITHOUT_PILLOW();
  TempDir dir;
  const auto png = sample::make_png({.width = 311, .height = 233, .seed = 11});
  const std::string path = (dir.path() / "a.png").string();
  testing::write_file(path, png);
  std::string jobs;
  std::vector<std::vector<uint8_t>> ours;
  std::vector<Interpolation> filters;
  for (Interpolation filter : {Interpolation::kBicubic, Interpolation::kNearest})
    for (const char* name : {"train_u8", "val_u8"})
      for (uint64_t seed = 0; seed < 3; ++seed) {
        PipelineSpec s = PipelineSpec::named(name, 100);
        s.interpolation = filter;
        s.flip_p = 0;
        DecodeReport r;
        ours.push_back(run_u8(s, png, seed, &r));
        filters.push_back(filter);
        jobs += box_job(path, "RGB", filter == Interpolation::kBicubic ? "resize_box_bicubic" : "resize_box_nearest",
                        100, r.box);
      }
  const auto ref = pillow(dir, jobs);
  ASSERT_EQ(ref.size(), ours.size() * 100 * 100 * 3);
  for (size_t k = 0; k < ours.size(); ++k) {
    const auto d = testing::diff(ours[k].data(), ref.data() + k * 30000, 30000);
    if (filters[k] == Interpolation::kNearest) {
      EXPECT_EQ(d.max, 0) << "nearest output " << k;
    } else {
      EXPECT_LE(d.mean, 1.0) << "bicubic output " << k;
      EXPECT_LE(d.max, 8) << "bicubic output " << k;
    }
  }
}

TEST(FormatsPipeline, KeepAlphaGivesAFourthChannelResampledLikeTheOthers) {
  SKIP_WITHOUT_PILLOW();
  TempDir dir;
  const auto png = sample::make_png({.width = 240, .height = 200, .color = PngColor::kRgba, .seed = 12});
  const std::string path = (dir.path() / "a.png").string();
  testing::write_file(path, png);
  PipelineSpec s = PipelineSpec::named("train_u8", 80);
  s.keep_alpha = true;
  s.flip_p = 0;
  EXPECT_EQ(ImagePipeline(s).output_shape(), (std::vector<int64_t>{80, 80, 4}));
  DecodeReport r;
  const auto ours = run_u8(s, png, 3, &r);
  // Pillow premultiplies RGBA in resize(); band by band is the straight-alpha resample (torchvision's tensors).
  const auto ref = pillow(dir, box_job(path, "RGBA", "bands_box", 80, r.box));
  ASSERT_EQ(ref.size(), ours.size());
  const auto d = testing::diff(ours.data(), ref.data(), ours.size());
  EXPECT_LE(d.mean, 1.0);
  EXPECT_LE(d.max, 8);
  // A JPEG (no alpha) gets an opaque 4th channel; a float output holds alpha / 255.
  const auto jpeg = sample::make_jpeg({.width = 200, .height = 150, .seed = 1});
  const auto opaque = run_u8(s, jpeg, 0);
  for (size_t i = 3; i < opaque.size(); i += 4) ASSERT_EQ(opaque[i], 255);
  PipelineSpec f = PipelineSpec::named("train", 32);
  f.keep_alpha = true;
  const ImagePipeline fp(f);
  std::vector<float> out(fp.output_bytes() / 4);
  Rng rng(0);
  fp.run(jpeg.data(), jpeg.size(), rng, out.data());
  for (size_t i = 3 * 32 * 32; i < out.size(); ++i) ASSERT_FLOAT_EQ(out[i], 1.0f);
}

TEST(FormatsPipeline, TheDecoderIsChosenByContentAndTheReportSaysWhich) {
  const auto png = sample::make_png({.width = 120, .height = 90, .seed = 2});
  const auto webp = sample::make_webp({.width = 120, .height = 90, .seed = 2});
  const auto jpeg = sample::make_jpeg({.width = 120, .height = 90, .seed = 2});
  for (const auto& [bytes, format] :
       {std::pair{png, ImageFormat::kPng}, std::pair{webp, ImageFormat::kWebp}, std::pair{jpeg, ImageFormat::kJpeg}}) {
    DecodeReport r;
    run_u8(PipelineSpec::named("decode", 32), bytes, 0, &r);
    EXPECT_EQ(r.format, format) << format_name(format);
    EXPECT_EQ(r.width, 120);
    EXPECT_EQ(r.height, 90);
  }
  const std::vector<uint8_t> gif = {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0, 0, 0, 0};
  try {
    run_u8(PipelineSpec::named("decode", 32), gif, 0);
    FAIL() << "no BadSample";
  } catch (const BadSample& e) {
    EXPECT_NE(std::string(e.what()).find("not a JPEG, PNG or WebP file: starts with 47 49 46 38"), std::string::npos)
        << e.what();
  }
}

TEST(FormatsPipeline, TruncatedCorruptAndBombInputsAreBadSamples) {
  std::vector<std::pair<std::string, std::vector<uint8_t>>> bad;
  for (const Encoded& e : corpus()) {
    for (size_t cut : {e.bytes.size() / 4, e.bytes.size() / 2, e.bytes.size() - 20}) {
      auto t = e.bytes;
      t.resize(cut);
      bad.emplace_back(e.name + " cut at " + std::to_string(cut), t);
    }
  }
  auto crc = sample::make_png({.width = 100, .height = 80});
  crc[crc.size() / 2] ^= 0x40;
  bad.emplace_back("png with a bad IDAT CRC", crc);
  bad.emplace_back("png bomb over the limit", sample::png_bomb(30000, 30000));
  bad.emplace_back("png bomb under the limit", sample::png_bomb(12000, 12000));
  bad.emplace_back("png magic only", std::vector<uint8_t>{0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A});
  bad.emplace_back("webp magic only", std::vector<uint8_t>{'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'E', 'B', 'P'});
  PipelineSpec s = PipelineSpec::named("train", 64);
  s.max_pixels = 100'000'000;
  for (const auto& [name, bytes] : bad) {
    try {
      run_u8(s, bytes, 0);
      ADD_FAILURE() << name << ": no BadSample";
    } catch (const BadSample& e) {
      EXPECT_EQ(std::string(e.what()).find('/'), std::string::npos) << name << ": " << e.what();
    }
  }
}

TEST(FormatsPipeline, PngAndWebpOutputsAreAFunctionOfTheRngOnly) {
  const auto png = sample::make_png({.width = 300, .height = 200, .color = PngColor::kPalette, .seed = 3});
  PipelineSpec s = PipelineSpec::named("train", 48);
  s.color_jitter = ColorJitter::from_strengths(0.4, 0.4, 0.4, 0.1);
  s.grayscale_p = 0.2;
  std::vector<std::vector<uint8_t>> a, b;
  for (uint64_t seed = 0; seed < 8; ++seed) a.push_back(run_u8(s, png, seed));
  for (uint64_t seed = 8; seed-- > 0;) b.insert(b.begin(), run_u8(s, png, seed));  // other order, same answers
  EXPECT_EQ(a, b);
  EXPECT_NE(a[0], a[1]);
}

}  // namespace
}  // namespace ferry::transforms
