#include "loader/datasets/image_dataset.h"

#include <gtest/gtest.h>

#include <cstring>

#include "base/error.h"
#include "loader/datasets/image_folder.h"
#include "tests/loader_datasets/test_data.h"

namespace ferry {
namespace {

using testing::TempDir;
using testing::write_file;

class SlotWriter final : public SampleWriter {
 public:
  explicit SlotWriter(size_t image_bytes) : image(image_bytes) {}
  void* fixed(size_t field) override { return field == 0 ? static_cast<void*>(image.data()) : &label; }
  void* ragged(size_t, int64_t) override { throw std::logic_error("no ragged fields"); }
  std::vector<uint8_t> image;
  int64_t label = -2;
};

TEST(ImageDataset, DecodesIntoTheSlotWithTheSampleRngAndWritesTheLabel) {
  TempDir d;
  write_file(d / "root/a/0.jpg", testing::small_jpeg(1, 64));
  write_file(d / "root/b/1.jpg", testing::small_jpeg(2, 64));
  ImageDataset ds(std::make_shared<ImageFolder>(d / "root"), transforms::PipelineSpec::named("train_u8", 32));
  const Schema schema = ds.schema();
  ASSERT_EQ(schema.size(), 2u);
  EXPECT_EQ(schema[0].name, "image");
  EXPECT_EQ(schema[0].dtype, DType::kUInt8);
  EXPECT_EQ(schema[0].shape, (std::vector<int64_t>{32, 32, 3}));
  EXPECT_EQ(schema[1].name, "label");
  EXPECT_EQ(schema[1].dtype, DType::kInt64);
  const size_t bytes = static_cast<size_t>(sample_bytes(schema[0]));

  auto run = [&](int64_t index, uint64_t epoch) {
    SampleContext ctx;
    ctx.index = index;
    ctx.epoch = epoch;
    ctx.rng = Rng::for_sample(7, epoch, static_cast<uint64_t>(index));
    SlotWriter w(bytes);
    ds.get(ctx, w);
    EXPECT_EQ(w.label, index);
    return w.image;
  };
  const auto a = run(1, 0);
  EXPECT_EQ(a, run(1, 0)) << "same (seed, epoch, index) gives the same pixels";
  EXPECT_NE(a, run(0, 0));
}

TEST(ImageDataset, UndecodableBytesAreABadSampleNamingThePath) {
  TempDir d;
  write_file(d / "root/a/broken.jpg", {0xFF, 0xD8, 0xFF, 0x00, 1, 2, 3});
  ImageDataset ds(std::make_shared<ImageFolder>(d / "root"), transforms::PipelineSpec::named("val", 16));
  SampleContext ctx;
  SlotWriter w(static_cast<size_t>(sample_bytes(ds.schema()[0])));
  try {
    ds.get(ctx, w);
    FAIL() << "no error";
  } catch (const BadSample& e) {
    EXPECT_EQ(std::string(e.what()).rfind(d.path() + "/root/a/broken.jpg: ", 0), 0u) << e.what();
  }
  EXPECT_THROW(ImageDataset(nullptr, transforms::PipelineSpec::named("val", 16)), InvalidOption);
}

}  // namespace
}  // namespace ferry
