// The same images from an ImageFolder, the packed file made of it and tar
// shards holding them in the same order give the same bytes and labels.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <thread>

#include "base/error.h"
#include "loader/datasets/crc32c.h"
#include "loader/datasets/open_source.h"
#include "loader/datasets/raw_bytes_dataset.h"
#include "tests/loader_datasets/test_data.h"
#include "tools/pack/pack.h"

namespace ferry {
namespace {

using testing::TarWriter;
using testing::TempDir;
using testing::write_file;

/// Builds root/, data.ferry, shards s-0..s-2.tar and list.csv from the same 30 images.
void make_all(const TempDir& d) {
  for (int i = 0; i < 30; ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "root/class_%d/img_%03d.jpg", i % 4, i);
    write_file(d / name, testing::small_jpeg(static_cast<uint64_t>(i)));
  }
  ImageFolder folder(d / "root");
  pack::pack(folder, d / "data.ferry");
  ReadBuffer scratch;
  std::string csv = "path,label\n";
  TarWriter shards[3];
  for (int64_t i = 0; i < folder.size(); ++i) {
    auto bytes = folder.read(i, scratch);
    char key[32];
    std::snprintf(key, sizeof key, "%06lld", static_cast<long long>(i));
    TarWriter& t = shards[i * 3 / folder.size()];
    t.add(std::string(key) + ".jpg", {bytes.begin(), bytes.end()});
    t.add_text(std::string(key) + ".cls", std::to_string(folder.label(i)));
    csv += "root/" + std::string(folder.relative_path(i)) + "," + std::to_string(folder.label(i)) + "\n";
  }
  for (int s = 0; s < 3; ++s) write_file(d / ("s-" + std::to_string(s) + ".tar"), shards[s].finish());
  testing::write_text(d / "list.csv", csv);
}

TEST(SameBytes, ImageFolderPackedTarAndFileListAgreeSampleBySample) {
  TempDir d;
  make_all(d);
  std::vector<std::shared_ptr<SampleSource>> sources = {open_source(d / "root"), open_source(d / "data.ferry"),
                                                        open_source(d / "s-{0..2}.tar"), open_source(d / "list.csv")};
  EXPECT_NE(dynamic_cast<ImageFolder*>(sources[0].get()), nullptr);
  EXPECT_NE(dynamic_cast<PackedFile*>(sources[1].get()), nullptr);
  EXPECT_NE(dynamic_cast<TarShards*>(sources[2].get()), nullptr);
  EXPECT_NE(dynamic_cast<FileList*>(sources[3].get()), nullptr);
  std::vector<uint32_t> checksums;
  for (const auto& src : sources) {
    ASSERT_EQ(src->size(), 30) << src->describe();
    EXPECT_EQ(src->num_classes(), 4) << src->describe();
    ReadBuffer scratch;
    uint32_t crc = 0;
    for (int64_t i = 0; i < src->size(); ++i) {
      auto b = src->read(i, scratch);
      const int64_t label = src->label(i);
      crc = crc32c(b.data(), b.size(), crc);
      crc = crc32c(&label, sizeof label, crc);
    }
    checksums.push_back(crc);
  }
  for (size_t k = 1; k < checksums.size(); ++k) EXPECT_EQ(checksums[k], checksums[0]) << sources[k]->describe();
}

TEST(SameBytes, OpenSourceRefusesUnknownFormsListingTheAcceptedOnes) {
  TempDir d;
  testing::write_text(d / "x.zip", "z");
  try {
    open_source(d / "x.zip");
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("accepted: a folder"), std::string::npos) << e.what();
  }
  EXPECT_THROW(open_source(d / "nothing-here"), DataError);
}

/// A SampleWriter over plain vectors, as the loader provides one over a slot.
class VectorWriter final : public SampleWriter {
 public:
  void* fixed(size_t field) override {
    EXPECT_EQ(field, 1u);
    return &label;
  }
  void* ragged(size_t field, int64_t count) override {
    EXPECT_EQ(field, 0u);
    bytes.resize(static_cast<size_t>(count));
    return bytes.data();
  }
  std::vector<uint8_t> bytes;
  int64_t label = -2;
};

TEST(RawBytesDataset, WritesTheSourceBytesAsARaggedFieldAndTheLabel) {
  TempDir d;
  make_all(d);
  RawBytesDataset ds(open_source(d / "data.ferry"));
  const Schema schema = ds.schema();
  ASSERT_EQ(schema.size(), 2u);
  EXPECT_EQ(schema[0].name, "bytes");
  EXPECT_TRUE(schema[0].ragged);
  EXPECT_GE(schema[0].ragged_capacity, 4096);
  EXPECT_EQ(schema[1].name, "label");
  EXPECT_EQ(schema[1].dtype, DType::kInt64);
  // Concurrent get() from several threads, as a worker's thread pool does.
  auto folder = open_source(d / "root");
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      ReadBuffer scratch;
      for (int64_t i = t; i < ds.size(); i += 4) {
        SampleContext ctx;
        ctx.index = i;
        VectorWriter w;
        ds.get(ctx, w);
        auto want = folder->read(i, scratch);
        if (!std::equal(want.begin(), want.end(), w.bytes.begin(), w.bytes.end()) || w.label != folder->label(i)) {
          mismatches++;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace ferry
