#include "loader/datasets/tar_shards.h"

#include "loader/datasets/tar_shard_stream.h"

#include <gtest/gtest.h>

#include "base/error.h"
#include "tests/loader_datasets/test_data.h"

namespace ferry {
namespace {

using testing::TarWriter;
using testing::TempDir;
using testing::write_file;

std::string error_of(const std::string& pattern) {
  try {
    TarShards t(pattern);
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}

TEST(ExpandBraces, ExpandsRangesWithPaddingAndLists) {
  EXPECT_EQ(expand_braces("a.tar"), (std::vector<std::string>{"a.tar"}));
  EXPECT_EQ(expand_braces("t-{000008..000011}.tar"),
            (std::vector<std::string>{"t-000008.tar", "t-000009.tar", "t-000010.tar", "t-000011.tar"}));
  EXPECT_EQ(expand_braces("{a,b}-{1..2}"), (std::vector<std::string>{"a-1", "a-2", "b-1", "b-2"}));
  EXPECT_THROW(expand_braces("t-{1..}.tar"), InvalidOption);
  EXPECT_THROW(expand_braces("t-{3..1}.tar"), InvalidOption);
  EXPECT_THROW(expand_braces("t-{1..2.tar"), InvalidOption);
  EXPECT_THROW(expand_braces("t-1..2}.tar"), InvalidOption);
}

TEST(TarShards, GroupsMembersByKeyAndReadsLabelsAcrossShards) {
  TempDir d;
  TarWriter a;
  a.add_text("000000.cls", "4\n");
  a.add_text("000000.jpg", "image0");
  a.add_text("000000.json", "{}");
  a.add_text("000001.jpg", "image1");  // no label -> -1
  a.add_text("dir/000002.seg.png", "seg");
  a.add_text("dir/000002.jpeg", "image2");
  a.add_text("dir/000002.cls", "1");
  write_file(d / "s-00.tar", a.finish());
  TarWriter b;
  b.add_text("x.cls", "0");
  b.add_text("x.JPG", "imageX");
  write_file(d / "s-01.tar", b.finish());

  TarShards t(d / "s-{00..01}.tar");
  ASSERT_EQ(t.num_shards(), 2);
  ASSERT_EQ(t.size(), 4);
  EXPECT_EQ(t.shard_begin(0), 0);
  EXPECT_EQ(t.shard_begin(1), 3);
  EXPECT_EQ(t.shard_begin(2), 4);
  EXPECT_EQ(t.label(0), 4);
  EXPECT_EQ(t.label(1), -1);
  EXPECT_EQ(t.label(2), 1);
  EXPECT_EQ(t.label(3), 0);
  EXPECT_EQ(t.num_classes(), 5);
  EXPECT_EQ(t.key(2), "dir/000002");
  EXPECT_EQ(t.path(2), d.path() + "/s-00.tar:dir/000002.jpeg");
  ReadBuffer s;
  const char* want[] = {"image0", "image1", "image2", "imageX"};
  for (int i = 0; i < 4; ++i) {
    auto bytes = t.read(i, s);
    EXPECT_EQ(std::string(bytes.begin(), bytes.end()), want[i]);
  }
  EXPECT_NE(t.describe().find("2 shards, 4 samples"), std::string::npos) << t.describe();
}

TEST(TarShards, TruncatedShardIsReportedWithShardAndOffset) {
  TempDir d;
  TarWriter a;
  a.add_text("0.jpg", std::string(3000, 'x'));
  a.add_text("1.jpg", std::string(3000, 'y'));
  auto bytes = a.finish();
  bytes.resize(512 + 3072 + 512 + 1000);  // cut inside member 1's data
  write_file(d / "cut.tar", bytes);
  const std::string e = error_of(d / "cut.tar");
  EXPECT_NE(e.find(d.path() + "/cut.tar: truncated tar"), std::string::npos) << e;
  EXPECT_NE(e.find("header at offset 3584"), std::string::npos) << e;
  bytes.resize(512 + 3072 + 100);  // cut inside member 1's header
  write_file(d / "cut2.tar", bytes);
  EXPECT_NE(error_of(d / "cut2.tar").find("partial header at offset 3584"), std::string::npos)
      << error_of(d / "cut2.tar");
}

TEST(TarShards, CorruptHeaderIsReportedWithShardAndOffset) {
  TempDir d;
  TarWriter a;
  a.add_text("0.jpg", "zero");
  a.add_text("1.jpg", "one");
  auto bytes = a.finish();
  bytes[1024 + 5] ^= 0x40;  // member 1's name; its checksum no longer matches
  write_file(d / "bad.tar", bytes);
  const std::string e = error_of(d / "bad.tar");
  EXPECT_NE(e.find("bad.tar: corrupt tar: bad header checksum at offset 1024"), std::string::npos) << e;
  write_file(d / "notatar.tar", std::vector<uint8_t>(2048, 'a'));
  EXPECT_NE(error_of(d / "notatar.tar").find("offset 0"), std::string::npos);
}

TEST(TarShards, BadLabelAndMissingImageAreErrors) {
  TempDir d;
  TarWriter a;
  a.add_text("0.cls", "dog");
  a.add_text("0.jpg", "x");
  write_file(d / "l.tar", a.finish());
  EXPECT_NE(error_of(d / "l.tar").find("l.tar:0.cls: label 'dog'"), std::string::npos) << error_of(d / "l.tar");
  TarWriter b;
  b.add_text("0.cls", "1");
  write_file(d / "m.tar", b.finish());
  EXPECT_NE(error_of(d / "m.tar").find("sample '0'"), std::string::npos) << error_of(d / "m.tar");
  EXPECT_NE(error_of(d / "missing-{0..1}.tar").find("cannot open shard"), std::string::npos);
}

TEST(TarShards, ReadsPaxLongNames) {
  TempDir d;
  TarWriter a;
  const std::string long_name = std::string(120, 'k') + ".jpg";
  const std::string rec = "path=" + long_name + "\n";
  std::string pax = std::to_string(rec.size() + 4) + " " + rec;  // length prefix includes itself
  // Build the pax header by hand: type 'x'.
  std::vector<uint8_t> body(pax.begin(), pax.end());
  a.add("PaxHeaders/x", body);
  auto bytes = a.finish();
  bytes[156] = 'x';
  // Fix the checksum of the edited header.
  std::memset(bytes.data() + 148, ' ', 8);
  unsigned sum = 0;
  for (int k = 0; k < 512; ++k) sum += bytes[static_cast<size_t>(k)];
  std::snprintf(reinterpret_cast<char*>(bytes.data() + 148), 8, "%06o", sum);
  bytes.resize(bytes.size() - 1024);
  TarWriter rest;
  rest.add_text("placeholder.jpg", "pax-named");
  auto tail = rest.finish();
  bytes.insert(bytes.end(), tail.begin(), tail.end());
  write_file(d / "pax.tar", bytes);
  TarShards t(d / "pax.tar");
  ASSERT_EQ(t.size(), 1);
  EXPECT_EQ(t.member_name(0), long_name);
}

TEST(TarShards, ManyShardsAreReadWithoutKeepingAnFdPerShard) {
  TempDir d;
  const int n = static_cast<int>(TarShards::kMaxOpenShards) + 20;
  for (int s = 0; s < n; ++s) {
    TarWriter w;
    w.add_text("x.cls", std::to_string(s % 7));
    w.add_text("x.jpg", std::to_string(s));
    char name[32];
    std::snprintf(name, sizeof name, "m-%04d.tar", s);
    write_file(d / name, w.finish());
  }
  char pattern[64];
  std::snprintf(pattern, sizeof pattern, "m-{0000..%04d}.tar", n - 1);
  TarShards t(d / pattern, {.index_threads = 2});
  ASSERT_EQ(t.size(), n);
  ReadBuffer s;
  for (int i = 0; i < n; i += 37) {
    auto b = t.read(i, s);
    EXPECT_EQ(std::string(b.begin(), b.end()), std::to_string(i));
    EXPECT_EQ(t.label(i), i % 7);
  }
}

TEST(TarShardStream, YieldsTheSameSamplesAsTheIndexAcrossShardsWithSmallReads) {
  TempDir d;
  std::vector<std::string> paths;
  for (int s = 0; s < 3; ++s) {
    TarWriter w;
    for (int i = 0; i < 5; ++i) {
      char key_buf[32];
      std::snprintf(key_buf, sizeof key_buf, "k%d_%d", s, i);
      const std::string key = key_buf;
      w.add_text(key + ".cls", std::to_string(i));
      // Sizes around and above the read size exercise refills and growth.
      w.add(key + ".jpg", std::vector<uint8_t>(static_cast<size_t>(700 * i * i + 1), static_cast<uint8_t>(s * 10 + i)));
      w.add_text(key + ".txt", "caption");
    }
    char name[32];
    std::snprintf(name, sizeof name, "s%d.tar", s);
    paths.push_back(d / name);
    write_file(paths.back(), w.finish());
  }
  TarShards index(paths);
  for (size_t read_size : {size_t{4096}, size_t{1} << 20}) {
    TarShardStream stream(paths, {}, read_size);
    TarShardStream::Sample x;
    ReadBuffer scratch;
    int64_t i = 0;
    while (stream.next(x)) {
      ASSERT_LT(i, index.size());
      EXPECT_EQ(x.key, index.key(i));
      EXPECT_EQ(x.label, index.label(i));
      auto want = index.read(i, scratch);
      ASSERT_TRUE(std::equal(want.begin(), want.end(), x.bytes.begin(), x.bytes.end())) << i;
      EXPECT_EQ(static_cast<int64_t>(x.shard), i / 5);
      ++i;
    }
    EXPECT_EQ(i, index.size());
    EXPECT_FALSE(stream.next(x));
  }
  EXPECT_THROW(TarShardStream(paths, {}, 100), InvalidOption);
}

TEST(TarShardStream, TruncatedShardIsReportedWithShardAndOffset) {
  TempDir d;
  TarWriter a;
  a.add_text("0.jpg", std::string(3000, 'x'));
  a.add_text("1.jpg", std::string(3000, 'y'));
  auto bytes = a.finish();
  bytes.resize(512 + 3072 + 512 + 1000);
  write_file(d / "cut.tar", bytes);
  TarShardStream s({d / "cut.tar"}, {}, 4096);
  TarShardStream::Sample x;
  try {
    while (s.next(x)) {
    }
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("cut.tar: truncated tar: member '1.jpg' with header at offset 3584"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace ferry
