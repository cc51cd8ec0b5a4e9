#include "loader/datasets/file_list.h"

#include <gtest/gtest.h>

#include "base/error.h"
#include "tests/loader_datasets/test_data.h"

namespace ferry {
namespace {

using testing::TempDir;
using testing::write_text;

std::string error_of(const std::string& list, FileListOptions o = {}) {
  try {
    FileList f(list, o);
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}

TEST(FileList, ReadsRelativeAndAbsolutePathsWithAutoHeader) {
  TempDir d;
  write_text(d / "imgs/a.jpg", "A");
  write_text(d / "b.jpg", "B");
  write_text(d / "list.csv", "path,label\nimgs/a.jpg,3\n\n# comment\n" + d.path() + "/b.jpg, 1\r\n\"imgs/a.jpg\",0\n");
  FileList f(d / "list.csv");
  ASSERT_EQ(f.size(), 3);
  EXPECT_EQ(f.label(0), 3);
  EXPECT_EQ(f.label(1), 1);
  EXPECT_EQ(f.num_classes(), 4);
  EXPECT_EQ(f.path(0), d.path() + "/imgs/a.jpg");
  EXPECT_EQ(f.path(1), d.path() + "/b.jpg");
  ReadBuffer s;
  auto b = f.read(1, s);
  EXPECT_EQ(std::string(b.begin(), b.end()), "B");
}

TEST(FileList, TsvUsesTabsAndQuotedCsvFieldsMayHoldCommas) {
  TempDir d;
  write_text(d / "l.tsv", "x,y.jpg\t2\n");
  FileList t(d / "l.tsv");
  EXPECT_EQ(t.path(0), d.path() + "/x,y.jpg");
  write_text(d / "l.csv", "\"x,\"\"y\"\".jpg\",5\n");
  FileList c(d / "l.csv");
  EXPECT_EQ(c.path(0), d.path() + "/x,\"y\".jpg");
  EXPECT_EQ(c.label(0), 5);
}

TEST(FileList, HeaderOptionIsHonoured) {
  TempDir d;
  write_text(d / "l.csv", "a.jpg,1\nb.jpg,2\n");
  EXPECT_EQ(FileList(d / "l.csv", {.header = ListHeader::kPresent}).size(), 1);
  EXPECT_EQ(FileList(d / "l.csv", {.header = ListHeader::kAbsent}).size(), 2);
  EXPECT_EQ(FileList(d / "l.csv").size(), 2);
  write_text(d / "h.csv", "file,class\na.jpg,1\n");
  EXPECT_NE(error_of(d / "h.csv", {.header = ListHeader::kAbsent}).find("h.csv:1:"), std::string::npos);
}

TEST(FileList, MalformedLineIsAnErrorNamingTheLineNumber) {
  TempDir d;
  write_text(d / "bad.csv", "path,label\na.jpg,1\n\nb.jpg\n");
  EXPECT_NE(error_of(d / "bad.csv").find("bad.csv:4: expected 2 fields"), std::string::npos) << error_of(d / "bad.csv");
  write_text(d / "bad2.csv", "a.jpg,1\nb.jpg,cat\n");
  EXPECT_NE(error_of(d / "bad2.csv").find("bad2.csv:2: label 'cat'"), std::string::npos) << error_of(d / "bad2.csv");
  write_text(d / "bad3.csv", "a.jpg,1\nb.jpg,-4\n");
  EXPECT_NE(error_of(d / "bad3.csv").find("bad3.csv:2:"), std::string::npos);
  write_text(d / "bad4.csv", "a.jpg,1\n\"b.jpg,2\n");
  EXPECT_NE(error_of(d / "bad4.csv").find("bad4.csv:2: unterminated quote"), std::string::npos);
  write_text(d / "bad5.csv", "a.jpg,1\n,2\n");
  EXPECT_NE(error_of(d / "bad5.csv").find("bad5.csv:2: empty path"), std::string::npos);
}

TEST(FileList, EmptyOrMissingListIsAnError) {
  TempDir d;
  write_text(d / "empty.csv", "path,label\n");
  EXPECT_NE(error_of(d / "empty.csv").find("lists no samples"), std::string::npos);
  EXPECT_NE(error_of(d / "missing.csv").find("missing.csv"), std::string::npos);
}

}  // namespace
}  // namespace ferry
