#include "loader/datasets/image_folder.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "base/error.h"
#include "tests/loader_datasets/test_data.h"

namespace ferry {
namespace {

using testing::TempDir;
using testing::write_text;

TEST(ImageFolder, SortsClassesAndFilesAndLabelsByClassOrder) {
  TempDir d;
  write_text(d / "zebra/b.jpg", "zb");
  write_text(d / "zebra/a.JPEG", "za");
  write_text(d / "ant/1.png", "a1");
  write_text(d / "Bee/x.jpg", "bx");  // upper case sorts first, as in Python
  ImageFolder f(d.path());
  ASSERT_EQ(f.classes(), (std::vector<std::string>{"Bee", "ant", "zebra"}));
  ASSERT_EQ(f.size(), 4);
  EXPECT_EQ(f.relative_path(0), "Bee/x.jpg");
  EXPECT_EQ(f.relative_path(1), "ant/1.png");
  EXPECT_EQ(f.relative_path(2), "zebra/a.JPEG");
  EXPECT_EQ(f.relative_path(3), "zebra/b.jpg");
  EXPECT_EQ(f.label(0), 0);
  EXPECT_EQ(f.label(1), 1);
  EXPECT_EQ(f.label(3), 2);
  EXPECT_EQ(f.num_classes(), 3);
  ReadBuffer scratch;
  auto bytes = f.read(2, scratch);
  EXPECT_EQ(std::string(bytes.begin(), bytes.end()), "za");
  EXPECT_EQ(f.path(2), d.path() + "/zebra/a.JPEG");
  EXPECT_NE(f.describe().find("3 classes, 4 files"), std::string::npos) << f.describe();
  EXPECT_GE(f.index_seconds(), 0.0);
}

TEST(ImageFolder, IgnoresHiddenFilesOtherExtensionsAndFindsNestedFilesInWalkOrder) {
  TempDir d;
  write_text(d / "c/.hidden.jpg", "h");
  write_text(d / "c/notes.txt", "t");
  write_text(d / "c/z.jpg", "z");
  write_text(d / "c/sub/a.jpg", "sa");
  write_text(d / "c/.git/x.jpg", "g");
  write_text(d / ".hiddenclass/y.jpg", "y");
  ImageFolder f(d.path());
  ASSERT_EQ(f.classes(), (std::vector<std::string>{"c"}));
  ASSERT_EQ(f.size(), 2);
  EXPECT_EQ(f.relative_path(0), "c/z.jpg");  // os.walk: the class folder's own files first
  EXPECT_EQ(f.relative_path(1), "c/sub/a.jpg");
}

TEST(ImageFolder, FollowsSymlinksToFilesAndFolders) {
  TempDir d;
  TempDir elsewhere;
  write_text(elsewhere / "real/img.jpg", "real");
  write_text(elsewhere / "one.jpg", "one");
  write_text(d / "a/own.jpg", "own");
  ASSERT_EQ(::symlink((elsewhere / "real").c_str(), (d / "linked").c_str()), 0);
  ASSERT_EQ(::symlink((elsewhere / "one.jpg").c_str(), (d / "a/link.jpg").c_str()), 0);
  ASSERT_EQ(::symlink((d / "a").c_str(), (d / "a/loop").c_str()), 0);  // a cycle must not hang
  ImageFolder f(d.path());
  ASSERT_EQ(f.classes(), (std::vector<std::string>{"a", "linked"}));
  ASSERT_EQ(f.size(), 3);
  EXPECT_EQ(f.relative_path(0), "a/link.jpg");
  EXPECT_EQ(f.relative_path(1), "a/own.jpg");
  ReadBuffer scratch;
  auto b = f.read(2, scratch);
  EXPECT_EQ(std::string(b.begin(), b.end()), "real");
}

TEST(ImageFolder, EmptyRootIsAnErrorNamingTheFolder) {
  TempDir d;
  write_text(d / "stray.jpg", "x");  // files in the root are not classes
  try {
    ImageFolder f(d.path());
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(d.path()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("no class folders"), std::string::npos) << e.what();
  }
}

TEST(ImageFolder, EmptyClassIsAnErrorNamingTheClassFolder) {
  TempDir d;
  write_text(d / "full/a.jpg", "x");
  write_text(d / "empty/readme.txt", "x");
  try {
    ImageFolder f(d.path());
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(d.path() + "/empty"), std::string::npos) << e.what();
  }
}

TEST(ImageFolder, MissingRootIsAnError) { EXPECT_THROW(ImageFolder("/nonexistent/ferry/root"), DataError); }

TEST(ImageFolder, CustomExtensionsAndThreadCount) {
  TempDir d;
  for (int c = 0; c < 20; ++c) {
    for (int i = 0; i < 5; ++i) {
      char name[32];
      std::snprintf(name, sizeof name, "c%d/%d.BIN", 100 + c, i);
      write_text(d / name, "b");
    }
  }
  ImageFolder f(d.path(), {.extensions = {".bin"}, .index_threads = 3});
  EXPECT_EQ(f.size(), 100);
  EXPECT_EQ(f.label(99), 19);
  EXPECT_THROW(ImageFolder(d.path(), {.extensions = {}}), InvalidOption);
}

TEST(ImageFolder, ReadOfAFileRemovedAfterIndexingNamesThePath) {
  TempDir d;
  write_text(d / "a/gone.jpg", "x");
  ImageFolder f(d.path());
  ::unlink((d / "a/gone.jpg").c_str());
  ReadBuffer scratch;
  try {
    f.read(0, scratch);
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("a/gone.jpg"), std::string::npos);
  }
}

}  // namespace
}  // namespace ferry
