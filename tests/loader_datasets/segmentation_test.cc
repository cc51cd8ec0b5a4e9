// SegmentationPairs (parallel folders, list files) and SegmentationDataset
// through the DataLoader: aligned image and mask fields, the same bytes for any
// worker count and start method, bad masks under OnBadSample.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "base/error.h"
#include "loader/builtin_datasets.h"
#include "loader/data_loader.h"
#include "loader/datasets/segmentation_dataset.h"
#include "tests/loader_datasets/test_data.h"
#include "tests/support/batch_bytes.h"
#include "tests/support/process_census.h"
#include "tools/gen_sample/sample_folders.h"
#include "tools/gen_sample/sample_png.h"

namespace ferry {
namespace {

using testing::TempDir;
using testing::write_file;
using testing::write_text;

std::string data_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const DataError& e) {
    return e.what();
  }
  return "(no DataError)";
}

TEST(SegmentationPairs, FoldersPairMasksWithImagesByRelativePathAndName) {
  TempDir d;
  write_file(d / "img/a/001.jpg", testing::small_jpeg(1));
  write_file(d / "img/a/002.png", sample::make_png({.width = 24, .height = 24}));
  write_file(d / "img/b/003.webp", testing::small_jpeg(3));  // content does not matter for pairing
  write_file(d / "img/b/004.jpg", testing::small_jpeg(4));   // no mask: left out, counted
  write_file(d / "msk/a/001.png", sample::make_mask_png({}));
  write_file(d / "msk/a/002.png", sample::make_mask_png({}));
  write_file(d / "msk/b/003.png", sample::make_mask_png({}));
  const auto pairs = SegmentationPairs::from_folders(d / "img/", d / "msk");
  ASSERT_EQ(pairs->size(), 3);
  EXPECT_EQ(pairs->image_path(0), d / "img/a/001.jpg");
  EXPECT_EQ(pairs->mask_path(0), d / "msk/a/001.png");
  EXPECT_EQ(pairs->image_path(1), d / "img/a/002.png");
  EXPECT_EQ(pairs->image_path(2), d / "img/b/003.webp");
  EXPECT_NE(pairs->describe().find("3 pairs, 1 images without a mask"), std::string::npos) << pairs->describe();

  write_file(d / "msk/b/005.png", sample::make_mask_png({}));
  std::string m = data_error([&] { SegmentationPairs::from_folders(d / "img", d / "msk"); });
  EXPECT_NE(m.find("mask '" + d / "msk/b/005.png" + "' has no image"), std::string::npos) << m;
  std::filesystem::remove(d / "msk/b/005.png");
  write_file(d / "img/a/001.png", testing::small_jpeg(9));
  m = data_error([&] { SegmentationPairs::from_folders(d / "img", d / "msk"); });
  EXPECT_NE(m.find("matches several images"), std::string::npos) << m;
  m = data_error([&] { SegmentationPairs::from_folders(d / "img", d / "nothing"); });
  EXPECT_NE(m.find("cannot open folder"), std::string::npos) << m;
  std::filesystem::create_directories(d / "empty");
  m = data_error([&] { SegmentationPairs::from_folders(d / "img", d / "empty"); });
  EXPECT_NE(m.find("no masks"), std::string::npos) << m;
}

TEST(SegmentationPairs, ListFilesHoldTwoPathColumns) {
  TempDir d;
  write_text(d / "lists/train.csv", "# a comment\nimage,mask\nimgs/1.jpg,masks/1.png\n\n\"/abs/2,x.jpg\",/abs/2.png\n");
  const auto pairs = SegmentationPairs::from_list(d / "lists/train.csv");
  ASSERT_EQ(pairs->size(), 2);
  EXPECT_EQ(pairs->image_path(0), d / "lists/imgs/1.jpg");
  EXPECT_EQ(pairs->mask_path(0), d / "lists/masks/1.png");
  EXPECT_EQ(pairs->image_path(1), "/abs/2,x.jpg");
  write_text(d / "t.tsv", "a.jpg\ta.png\n");
  EXPECT_EQ(SegmentationPairs::from_list(d / "t.tsv")->size(), 1);
  write_text(d / "bad.csv", "a.jpg,a.png\nb.jpg\n");
  const std::string m = data_error([&] { SegmentationPairs::from_list(d / "bad.csv"); });
  EXPECT_NE(m.find(d / "bad.csv" + ":2: expected 2 fields (image,mask), found 1"), std::string::npos) << m;
  write_text(d / "none.csv", "image,mask\n");
  EXPECT_NE(data_error([&] { SegmentationPairs::from_list(d / "none.csv"); }).find("lists no pairs"),
            std::string::npos);
}

// The generated set, its loader options and one whole epoch's bytes.
std::vector<std::vector<uint8_t>> epoch(const std::shared_ptr<Dataset>& ds, int workers,
                                        StartMethod start = StartMethod::kAuto) {
  LoaderOptions o;
  o.batch_size = 5;
  o.shuffle = true;
  o.seed = 11;
  o.num_workers = workers;
  o.threads_per_worker = 2;
  o.start_method = start;
  DataLoader loader(ds, o);
  return testing::epoch_bytes(loader);
}

TEST(SegmentationDataset, BatchesHoldImageAndMaskFieldsWithTheSameBytesForAnyWorkerCount) {
  TempDir d;
  sample::write_segmentation_folders(d / "seg", 14, 21, 3);
  auto spec = transforms::PipelineSpec::named("train", 48);
  spec.color_jitter = transforms::ColorJitter::from_strengths(0.4, 0.4, 0.4, 0.1);
  const auto from_folders = open_segmentation_dataset(d / "seg/images", d / "seg/masks", spec, DType::kUInt8);
  const Schema schema = from_folders->schema();
  ASSERT_EQ(schema.size(), 2u);
  EXPECT_EQ(schema[0].name, "image");
  EXPECT_EQ(schema[0].shape, (std::vector<int64_t>{3, 48, 48}));
  EXPECT_EQ(schema[1].name, "mask");
  EXPECT_EQ(schema[1].dtype, DType::kUInt8);
  EXPECT_EQ(schema[1].shape, (std::vector<int64_t>{48, 48}));
  const auto zero = epoch(from_folders, 0);
  const auto census = testing::take_census();  // after the calling thread's pool has started
  ASSERT_EQ(zero.size(), 3u);                  // 14 pairs in batches of 5
  EXPECT_EQ(epoch(from_folders, 2), zero);
  EXPECT_EQ(epoch(from_folders, 2, StartMethod::kSpawn), zero);
  // The list file names the same pairs in the same order.
  EXPECT_EQ(epoch(open_segmentation_dataset(d / "seg/pairs.csv", "", spec, DType::kUInt8), 1), zero);
  EXPECT_EQ(testing::wait_until_clean(census), "");
  // Mask values are class ids (0..20) or the void border (255), never normalized.
  LoaderOptions o;
  o.batch_size = 14;
  DataLoader loader(from_folders, o);
  for (auto& b : loader) {
    const auto& mask = b["mask"];
    const auto* ids = mask.data_as<uint8_t>();
    for (int64_t i = 0; i < mask.numel(); ++i) ASSERT_TRUE(ids[i] < 21 || ids[i] == 255) << int(ids[i]);
  }
}

TEST(SegmentationDataset, Int64MasksAndBadMasksFollowTheBadSamplePolicy) {
  TempDir d;
  sample::write_segmentation_folders(d / "seg", 6, 5, 4);
  // Pair 2's mask is cut in half.
  auto mask = testing::read_file(d / "seg/masks/seg_00002.png");
  mask.resize(mask.size() / 2);
  write_file(d / "seg/masks/seg_00002.png", mask);
  const auto ds = open_segmentation_dataset(d / "seg/images", d / "seg/masks",
                                            transforms::PipelineSpec::named("val_u8", 32), DType::kInt64);
  EXPECT_EQ(ds->schema()[1].dtype, DType::kInt64);
  LoaderOptions o;
  o.batch_size = 6;
  o.on_bad_sample = OnBadSample::kSkip;
  DataLoader skipping(ds, o);
  int64_t samples = 0;
  for (auto& b : skipping) samples += b.size();
  EXPECT_EQ(samples, 6);  // the bad pair is replaced by the next good one
  EXPECT_EQ(skipping.stats().skipped_samples, 1);
  o.on_bad_sample = OnBadSample::kError;
  DataLoader failing(ds, o);
  try {
    for (auto& b : failing) (void)b;
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(d / "seg/masks/seg_00002.png"), std::string::npos) << e.what();
  }
}

TEST(SegmentationDataset, ThePipelineTextKeepsEveryNewField) {
  auto spec = transforms::PipelineSpec::named("train", 100);
  spec.color_jitter = transforms::ColorJitter::from_strengths(0.3, 0.2, 0.1, 0.05);
  spec.color_jitter.brightness = {0.1 + 1e-12, 1.7};
  spec.grayscale_p = 0.125;
  spec.interpolation = transforms::Interpolation::kBicubic;
  spec.keep_alpha = true;
  const auto back = parse_pipeline(serialize_pipeline(spec));
  EXPECT_EQ(back.color_jitter, spec.color_jitter);
  EXPECT_EQ(back.grayscale_p, spec.grayscale_p);
  EXPECT_EQ(back.interpolation, spec.interpolation);
  EXPECT_EQ(back.keep_alpha, spec.keep_alpha);
  EXPECT_EQ(serialize_pipeline(back), serialize_pipeline(spec));
}

}  // namespace
}  // namespace ferry
