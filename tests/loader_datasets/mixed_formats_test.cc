// An ImageFolder of mixed formats (JPEG, PNG, WebP, and files whose extension
// names another format) decodes by content, with the same bytes for any
// worker count; a file no decoder takes is a BadSample naming its path.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/error.h"
#include "loader/builtin_datasets.h"
#include "loader/data_loader.h"
#include "tests/loader_datasets/test_data.h"
#include "tests/support/batch_bytes.h"
#include "tools/gen_sample/sample_folders.h"

namespace ferry {
namespace {

using testing::TempDir;

std::vector<std::vector<uint8_t>> epoch(const std::shared_ptr<Dataset>& ds, int workers,
                                        StartMethod start = StartMethod::kAuto) {
  LoaderOptions o;
  o.batch_size = 8;
  o.shuffle = true;
  o.seed = 3;
  o.num_workers = workers;
  o.start_method = start;
  DataLoader loader(ds, o);
  return testing::epoch_bytes(loader);
}

TEST(MixedFormats, AMixedFolderGivesTheSameBytesForZeroAndTwoWorkers) {
  TempDir d;
  sample::write_mixed_image_folder(d / "mixed", 36, 3, 1);
  for (const char* name : {"train", "val_u8"}) {
    auto spec = transforms::PipelineSpec::named(name, 64);
    spec.color_jitter = transforms::ColorJitter::from_strengths(0.4, 0.4, 0.4, 0.1);
    spec.grayscale_p = 0.1;
    const auto ds = open_image_dataset(d / "mixed", spec);
    ASSERT_EQ(ds->size(), 36);
    const auto zero = epoch(ds, 0);
    ASSERT_EQ(zero.size(), 5u);
    EXPECT_EQ(epoch(ds, 2), zero) << name;
    EXPECT_EQ(epoch(ds, 2, StartMethod::kSpawn), zero) << name;
  }
}

TEST(MixedFormats, AFileNoDecoderTakesIsABadSampleNamingItsPath) {
  TempDir d;
  sample::write_mixed_image_folder(d / "mixed", 6, 1, 2);
  testing::write_text(d / "mixed/class_000/img_99999.jpg", "GIF89a this is not a JPEG");
  LoaderOptions o;
  o.batch_size = 7;
  DataLoader loader(open_image_dataset(d / "mixed", transforms::PipelineSpec::named("val", 32)), o);
  try {
    for (auto& b : loader) (void)b;
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(d / "mixed/class_000/img_99999.jpg"), std::string::npos) << m;
    EXPECT_NE(m.find("not a JPEG, PNG or WebP file"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace ferry
