// MaskPipeline: label maps follow their image's box and flip, picked exactly
// as Pillow's NEAREST resize picks them, as uint8 or int64 class ids.
#include "transforms/mask_pipeline.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "base/error.h"
#include "tests/transforms/test_util.h"
#include "tools/gen_sample/sample_data.h"
#include "tools/gen_sample/sample_png.h"
#include "tools/gen_sample/sample_webp.h"

namespace ferry::transforms {
namespace {

using sample::MaskOptions;
using sample::PngColor;
using testing::exact_text;
using testing::TempDir;

// An RGB PNG whose colour encodes the class of `mask` at each pixel (red = class id).
std::vector<uint8_t> image_of_classes(const MaskOptions& o) {
  const auto ids = sample::render_mask(o);
  sample::PngImage im;
  im.width = o.width;
  im.height = o.height;
  im.color = PngColor::kRgb;
  for (uint16_t id : ids) im.samples.insert(im.samples.end(), {id, uint16_t(255 - id), uint16_t(id * 7 % 256)});
  return sample::encode_png(im);
}

struct Pair {
  std::vector<uint8_t> image;  // uint8 HWC
  std::vector<uint8_t> mask;   // class ids as asked
  DecodeReport report;
};

Pair run_pair(const PipelineSpec& spec, DType dtype, const std::vector<uint8_t>& image,
              const std::vector<uint8_t>& mask, uint64_t seed) {
  const ImagePipeline ip(spec);
  const MaskPipeline mp(spec, dtype);
  Pair p{std::vector<uint8_t>(ip.output_bytes()), std::vector<uint8_t>(mp.output_bytes()), {}};
  Rng rng = Rng::for_sample(seed, 1, 2);
  ip.run(image.data(), image.size(), rng, p.image.data(), &p.report);
  mp.run(mask.data(), mask.size(), p.report, p.mask.data());
  return p;
}

TEST(MaskPipeline, MasksEqualPillowsNearestResizeOfTheSameBox) {
  SKIP_WITHOUT_PILLOW();
  TempDir dir;
  const std::vector<MaskOptions> masks = {
      {.width = 333, .height = 251, .classes = 21, .palette = true, .void_border = true, .seed = 1},
      {.width = 290, .height = 310, .classes = 150, .palette = false, .bit_depth = 8, .seed = 2},
      {.width = 301, .height = 207, .classes = 3000, .palette = false, .bit_depth = 16, .seed = 3}};
  std::string jobs;
  std::vector<std::vector<int64_t>> ours;
  for (size_t m = 0; m < masks.size(); ++m) {
    const auto mask = sample::make_mask_png(masks[m]);
    const std::string path = (dir.path() / ("m" + std::to_string(m) + ".png")).string();
    testing::write_file(path, mask);
    const auto image = sample::make_png({.width = masks[m].width, .height = masks[m].height, .seed = m});
    for (const char* name : {"train_u8", "val_u8", "decode"})
      for (uint64_t seed = 0; seed < 4; ++seed) {
        PipelineSpec spec = PipelineSpec::named(name, 72);
        const Pair p = run_pair(spec, DType::kInt64, image, mask, seed);
        std::vector<int64_t> ids(72 * 72);
        std::memcpy(ids.data(), p.mask.data(), p.mask.size());
        if (p.report.flip)  // compare unflipped: Pillow is given the box only
          for (size_t y = 0; y < 72; ++y) std::reverse(ids.begin() + y * 72, ids.begin() + y * 72 + 72);
        ours.push_back(ids);
        const CropBox& b = p.report.box;
        jobs += path + " - labels_nearest 72 72 " + exact_text(b.x) + " " + exact_text(b.y) + " " +
                exact_text(b.x + b.width) + " " + exact_text(b.y + b.height) + "\n";
      }
  }
  const auto ref = testing::pillow(dir, jobs);
  ASSERT_EQ(ref.size(), ours.size() * 72 * 72 * 2);
  for (size_t k = 0; k < ours.size(); ++k) {
    std::vector<uint16_t> theirs(72 * 72);
    std::memcpy(theirs.data(), ref.data() + k * 72 * 72 * 2, theirs.size() * 2);
    int mismatches = 0;
    for (size_t i = 0; i < theirs.size(); ++i) mismatches += ours[k][i] != theirs[i];
    EXPECT_EQ(mismatches, 0) << "output " << k;
  }
}

TEST(MaskPipeline, ImageAndMaskCropsAlignPixelForPixel) {
  const MaskOptions o{.width = 317, .height = 263, .classes = 21, .palette = true, .seed = 4};
  const auto image = image_of_classes(o);
  const auto mask = sample::make_mask_png(o);
  int flipped = 0;
  for (const char* name : {"train_u8", "val_u8"})
    for (uint64_t seed = 0; seed < 16; ++seed) {
      // Nearest: each output pixel is one source pixel, so the classes must agree everywhere.
      PipelineSpec spec = PipelineSpec::named(name, 64);
      spec.interpolation = Interpolation::kNearest;
      const Pair p = run_pair(spec, DType::kUInt8, image, mask, seed);
      flipped += p.report.flip;
      for (size_t i = 0; i < 64 * 64; ++i)
        ASSERT_EQ(p.image[3 * i], p.mask[i]) << name << " seed " << seed << " at " << i;
      // Bilinear: away from class edges (a uniform 3x3 neighbourhood in the mask) the colours are the classes'.
      spec.interpolation = Interpolation::kBilinear;
      const Pair q = run_pair(spec, DType::kUInt8, image, mask, seed);
      ASSERT_EQ(q.mask, p.mask) << "the mask depends on the image's filter";
      for (int y = 1; y < 63; ++y)
        for (int x = 1; x < 63; ++x) {
          const uint8_t id = q.mask[static_cast<size_t>(y * 64 + x)];
          bool uniform = true;
          for (int dy = -1; dy <= 1; ++dy)
            for (int dx = -1; dx <= 1; ++dx) uniform &= q.mask[static_cast<size_t>((y + dy) * 64 + x + dx)] == id;
          if (uniform) {
            ASSERT_NEAR(q.image[static_cast<size_t>(y * 64 + x) * 3], id, 1) << name << " seed " << seed;
          }
        }
    }
  EXPECT_GT(flipped, 2) << "the flip was hardly exercised";
}

TEST(MaskPipeline, OutputsAreClassIdsInTheAskedType) {
  const MaskOptions o{.width = 120, .height = 90, .classes = 2000, .palette = false, .bit_depth = 16, .seed = 5};
  const auto mask = sample::make_mask_png(o);
  const auto image = sample::make_png({.width = 120, .height = 90});
  const PipelineSpec spec = PipelineSpec::named("decode", 120);  // identity geometry: the ids themselves
  const MaskPipeline wide(spec, DType::kInt64);
  EXPECT_EQ(wide.output_shape(), (std::vector<int64_t>{120, 120}));
  const Pair p = run_pair(PipelineSpec::named("decode", 120), DType::kInt64, image, mask, 0);
  std::vector<int64_t> ids(120 * 120);
  std::memcpy(ids.data(), p.mask.data(), p.mask.size());
  EXPECT_GT(*std::max_element(ids.begin(), ids.end()), 255);
  try {
    run_pair(spec, DType::kUInt8, image, mask, 0);
    FAIL() << "no BadSample";
  } catch (const BadSample& e) {
    EXPECT_NE(std::string(e.what()).find("use int64 masks"), std::string::npos) << e.what();
  }
  EXPECT_THROW(MaskPipeline(spec, DType::kFloat32), InvalidOption);
}

TEST(MaskPipeline, AGrayscaleJpegMaskIsReadAsItsGrayValues) {
  const auto jpeg = sample::make_jpeg({.width = 80, .height = 60, .subsampling = sample::Subsampling::kGray});
  const auto image = sample::make_png({.width = 80, .height = 60});
  const Pair p = run_pair(PipelineSpec::named("decode", 80), DType::kUInt8, image, jpeg, 0);
  EXPECT_EQ(p.mask.size(), 80u * 80);
}

TEST(MaskPipeline, UnusableMasksAreBadSamples) {
  const auto image = sample::make_png({.width = 100, .height = 80});
  const PipelineSpec spec = PipelineSpec::named("train_u8", 32);
  auto expect_bad = [&](const std::vector<uint8_t>& mask, const std::string& words) {
    try {
      run_pair(spec, DType::kInt64, image, mask, 0);
      ADD_FAILURE() << "no BadSample for " << words;
    } catch (const BadSample& e) {
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
  };
  expect_bad(sample::make_mask_png({.width = 100, .height = 81}), "mask is 100x81 but its image is 100x80");
  expect_bad(sample::make_png({.width = 100, .height = 80, .color = PngColor::kRgb}), "palette or grayscale");
  expect_bad(sample::make_webp({.width = 100, .height = 80}), "WebP");
  auto truncated = sample::make_mask_png({.width = 100, .height = 80});
  truncated.resize(truncated.size() / 2);
  expect_bad(truncated, "PNG decode failed");
  expect_bad({'n', 'o', 'p', 'e'}, "not a JPEG, PNG or WebP file");
}

}  // namespace
}  // namespace ferry::transforms
