#include "loader/datasets/packed_file.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstddef>
#include <cstdlib>

#include "base/error.h"
#include "loader/datasets/crc32c.h"
#include "loader/datasets/image_folder.h"
#include "loader/datasets/packed_writer.h"
#include "tests/loader_datasets/test_data.h"
#include "tools/pack/pack.h"

namespace ferry {
namespace {

using testing::read_file;
using testing::TempDir;
using testing::write_file;

std::string error_of(const std::string& path, PackedFileOptions o = {}) {
  try {
    PackedFile f(path, o);
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}

/// A packed file of `n` records: record i is `i + 1` bytes of value i, label i % 3.
std::string make_packed(const TempDir& d, int n) {
  const std::string path = d / "t.ferry";
  PackedWriter w(path, static_cast<uint64_t>(n), {"a", "b", "c"});
  for (int i = 0; i < n; ++i) w.add(std::vector<uint8_t>(static_cast<size_t>(i) + 1, static_cast<uint8_t>(i)), i % 3);
  w.finish();
  return path;
}

TEST(PackedFile, WriterAndReaderRoundTripWithPageAlignedRecords) {
  TempDir d;
  const std::string path = make_packed(d, 5);
  PackedFile f(path);
  ASSERT_EQ(f.size(), 5);
  EXPECT_EQ(f.num_classes(), 3);
  EXPECT_EQ(f.classes(), (std::vector<std::string>{"a", "b", "c"}));
  ReadBuffer s;
  for (int i = 0; i < 5; ++i) {
    auto b = f.read(i, s);
    ASSERT_EQ(b.size(), static_cast<size_t>(i) + 1);
    EXPECT_EQ(b[0], i);
    EXPECT_EQ(f.label(i), i % 3);
    EXPECT_EQ(f.entry(i).offset % packed::kAlignment, 0u);
  }
  EXPECT_EQ(f.path(3), path + "#record 3");
  EXPECT_EQ(read_file(path).size() % packed::kAlignment, 0u);
  f.verify_all();
}

TEST(PackedFile, WriterLeavesNoFileWhenNotFinished) {
  TempDir d;
  {
    PackedWriter w(d / "x.ferry", 2);
    w.add(std::vector<uint8_t>{1}, 0);
    EXPECT_THROW(w.finish(), InvalidOption);
  }
  EXPECT_TRUE(std::filesystem::is_empty(d.path()));
}

TEST(PackedFile, FlippedRecordByteIsAnErrorNamingFileAndRecord) {
  TempDir d;
  const std::string path = make_packed(d, 4);
  uint64_t offset = 0;
  {
    PackedFile f(path);
    offset = f.entry(2).offset;
  }
  auto bytes = read_file(path);
  bytes[offset + 1] ^= 0x01;
  write_file(path, bytes);
  PackedFile f(path);
  ReadBuffer s;
  EXPECT_NO_THROW(f.read(1, s));
  try {
    f.read(2, s);
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(path + "#record 2: CRC32C mismatch"), std::string::npos) << e.what();
  }
  EXPECT_THROW(f.verify_all(), DataError);
  PackedFile unchecked(path, {.verify = Verify::kNone});
  EXPECT_EQ(unchecked.read(2, s)[1], 2 ^ 1);
}

TEST(PackedFile, BadMagicOtherVersionAndCorruptHeaderAreClearErrors) {
  TempDir d;
  const std::string path = make_packed(d, 3);
  const auto good = read_file(path);
  auto bytes = good;
  bytes[0] = 'X';
  write_file(path, bytes);
  EXPECT_NE(error_of(path).find("not a .ferry file"), std::string::npos) << error_of(path);
  bytes = good;
  bytes[offsetof(packed::FileHeader, version)] = 2;
  write_file(path, bytes);
  EXPECT_NE(error_of(path).find("format version 2 is not supported"), std::string::npos) << error_of(path);
  bytes = good;
  bytes[offsetof(packed::FileHeader, num_records)] = 200;
  write_file(path, bytes);
  EXPECT_NE(error_of(path).find("header checksum mismatch"), std::string::npos) << error_of(path);
  write_file(path, std::vector<uint8_t>(100, 0));
  EXPECT_NE(error_of(path).find("too short"), std::string::npos) << error_of(path);
  EXPECT_NE(error_of(d / "none.ferry").find("cannot open"), std::string::npos);
}

TEST(PackedFile, CorruptIndexIsAClearErrorNeverACrash) {
  TempDir d;
  const std::string path = make_packed(d, 3);
  const auto good = read_file(path);
  // A damaged index entry: its checksum fails.
  auto bytes = good;
  bytes[packed::kHeaderBytes + sizeof(packed::RecordEntry) + 2] ^= 0x10;
  write_file(path, bytes);
  EXPECT_NE(error_of(path).find("index checksum mismatch"), std::string::npos) << error_of(path);
  // An entry that points outside the file, with checksums made consistent:
  // the per-entry bounds check still refuses it.
  bytes = good;
  packed::RecordEntry e{};
  std::memcpy(&e, bytes.data() + packed::kHeaderBytes, sizeof e);
  e.offset = 1ull << 40;
  std::memcpy(bytes.data() + packed::kHeaderBytes, &e, sizeof e);
  packed::FileHeader h{};
  std::memcpy(&h, bytes.data(), sizeof h);
  h.index_crc = crc32c(bytes.data() + h.index_offset, h.names_offset + h.names_bytes - h.index_offset);
  h.header_crc = crc32c(&h, offsetof(packed::FileHeader, header_crc));
  std::memcpy(bytes.data(), &h, sizeof h);
  write_file(path, bytes);
  EXPECT_NE(error_of(path).find("corrupt index: record 0"), std::string::npos) << error_of(path);
  // A truncated file: the header's areas no longer fit.
  bytes = good;
  bytes.resize(packed::kHeaderBytes + 10);
  write_file(path, bytes);
  EXPECT_NE(error_of(path).find("corrupt header"), std::string::npos) << error_of(path);
  // Every single-byte corruption of header or index is refused at open (sampled).
  for (size_t pos = 0; pos < packed::kHeaderBytes + 3 * sizeof(packed::RecordEntry); pos += 7) {
    if (pos >= 64 && pos < packed::kHeaderBytes) continue;  // header padding is not covered
    bytes = good;
    bytes[pos] ^= 0x5A;
    write_file(path, bytes);
    EXPECT_NE(error_of(path), "") << "byte " << pos;
  }
}

class PackTool : public ::testing::Test {
 protected:
  static std::string tool() {
    const char* dir = std::getenv("FERRY_BIN_DIR");
    return std::string(dir ? dir : ".") + "/ferry-pack";
  }
  static int run(const std::string& args) {
    const int status = std::system((tool() + " " + args + " 2>/dev/null").c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
};

TEST_F(PackTool, ImageFolderRoundTripKeepsBytesAndLabels) {
  TempDir d;
  for (int i = 0; i < 12; ++i) {
    write_file(d / ("root/c" + std::to_string(i % 3) + "/" + std::to_string(i) + ".jpg"), testing::small_jpeg(i));
  }
  ASSERT_EQ(run(d / "root" + " " + d / "out.ferry"), 0);
  ImageFolder folder(d / "root");
  PackedFile packed(d / "out.ferry");
  ASSERT_EQ(packed.size(), folder.size());
  EXPECT_EQ(packed.classes(), folder.classes());
  ReadBuffer s1;
  ReadBuffer s2;
  for (int64_t i = 0; i < folder.size(); ++i) {
    auto a = folder.read(i, s1);
    auto b = packed.read(i, s2);
    ASSERT_TRUE(std::equal(a.begin(), a.end(), b.begin(), b.end())) << i;
    EXPECT_EQ(packed.label(i), folder.label(i));
  }
  // The tool reports a corrupt input record with exit status 1 and usage errors with 2.
  auto bytes = read_file(d / "out.ferry");
  bytes[packed.entry(5).offset + 100] ^= 0xFF;
  write_file(d / "out.ferry", bytes);
  EXPECT_EQ(run(d / "out.ferry" + " " + d / "again.ferry"), 1);
  EXPECT_FALSE(std::filesystem::exists(d / "again.ferry"));
  EXPECT_EQ(run(d / "root"), 2);
  EXPECT_EQ(run("--quality 0 " + d / "root" + " " + d / "q.ferry"), 2);
  EXPECT_EQ(run(d / "missing" + " " + d / "m.ferry"), 1);
}

TEST_F(PackTool, ReencodesToAMaximumSide) {
  TempDir d;
  sample::JpegOptions o;
  o.width = 200;
  o.height = 100;
  write_file(d / "root/c/big.jpg", sample::make_jpeg(o));
  write_file(d / "root/c/small.jpg", testing::small_jpeg(1));
  ImageFolder folder(d / "root");
  const auto stats = pack::pack(folder, d / "r.ferry", {.max_side = 64, .quality = 80});
  EXPECT_EQ(stats.reencoded, 1u);
  PackedFile packed(d / "r.ferry");
  ReadBuffer s;
  auto big = packed.read(0, s);
  // Re-encoding again at the same size is a no-op: it now fits.
  auto same = pack::reencode_jpeg(big, 64, 80);
  EXPECT_EQ(same.size(), big.size());
  EXPECT_THROW(pack::reencode_jpeg(std::vector<uint8_t>{1, 2, 3}, 64, 80), BadSample);
  ReadBuffer s2;
  auto small = packed.read(1, s);
  auto orig = folder.read(1, s2);
  EXPECT_TRUE(std::equal(small.begin(), small.end(), orig.begin(), orig.end()));
}

}  // namespace
}  // namespace ferry
