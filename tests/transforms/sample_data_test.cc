#include "tools/gen_sample/sample_data.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "tools/gen_sample/sample_folders.h"
#include "transforms/image_format.h"

namespace ferry::sample {
namespace {

namespace fs = std::filesystem;

constexpr const char* kDjpeg = "/usr/bin/djpeg";

struct PnmSize {
  int width = -1, height = -1, channels = 0;
};

// Decodes `path` with libjpeg-turbo's djpeg and reads the size from the PNM header.
PnmSize djpeg_size(const fs::path& path) {
  const std::string cmd = std::string(kDjpeg) + " -pnm '" + path.string() + "' 2>/dev/null";
  FILE* pipe = popen(cmd.c_str(), "r");
  PnmSize s;
  if (pipe == nullptr) return s;
  char magic[3] = {};
  int maxval = 0;
  if (std::fscanf(pipe, "%2s %d %d %d", magic, &s.width, &s.height, &maxval) == 4) {
    s.channels = std::string(magic) == "P6" ? 3 : std::string(magic) == "P5" ? 1 : 0;
    std::fgetc(pipe);
    long bytes = 0;
    while (std::fgetc(pipe) != EOF) ++bytes;
    if (bytes != static_cast<long>(s.width) * s.height * s.channels) s.channels = 0;  // short output
  }
  if (pclose(pipe) != 0) s.channels = 0;
  return s;
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "ferry-sample-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

TEST(SampleData, GeneratedFolderDecodesWithDjpegAtTheAskedSizes) {
  if (access(kDjpeg, X_OK) != 0) GTEST_SKIP() << kDjpeg << " not installed (package libjpeg-turbo-progs)";
  TempDir dir;
  constexpr int kImages = 48, kClasses = 5;
  write_image_folder(dir.path().string(), kImages, kClasses, 11);
  EXPECT_TRUE(fs::exists(dir.path() / ".complete"));
  int gray = 0;
  for (int i = 0; i < kImages; ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "class_%03d/img_%05d.jpg", i % kClasses, i);
    const JpegOptions o = image_folder_options(i, 11);
    const PnmSize s = djpeg_size(dir.path() / name);
    EXPECT_EQ(s.width, o.width) << name;
    EXPECT_EQ(s.height, o.height) << name;
    EXPECT_GE(o.width, 300);
    EXPECT_LE(o.width, 500);
    EXPECT_EQ(s.channels, o.subsampling == Subsampling::kGray ? 1 : 3) << name;
    gray += o.subsampling == Subsampling::kGray;
  }
  EXPECT_GE(gray, 1);
}

TEST(SampleData, EveryLayoutAndCodingDecodesWithDjpeg) {
  if (access(kDjpeg, X_OK) != 0) GTEST_SKIP() << kDjpeg << " not installed (package libjpeg-turbo-progs)";
  TempDir dir;
  int n = 0;
  for (auto sub : {Subsampling::k444, Subsampling::k422, Subsampling::k420, Subsampling::k440, Subsampling::kGray})
    for (bool progressive : {false, true})
      for (bool restart : {false, true}) {
        JpegOptions o{.width = 97 + n,
                      .height = 61 + 2 * n,
                      .subsampling = sub,
                      .progressive = progressive,
                      .restart_markers = restart,
                      .seed = static_cast<uint64_t>(n)};
        const auto bytes = make_jpeg(o);
        const fs::path path = dir.path() / ("img" + std::to_string(n++) + ".jpg");
        std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
        const PnmSize s = djpeg_size(path);
        EXPECT_EQ(s.width, o.width) << path;
        EXPECT_EQ(s.height, o.height) << path;
        EXPECT_EQ(s.channels, sub == Subsampling::kGray ? 1 : 3) << path;
      }
}

TEST(SampleData, SameSeedGivesSameBytesAndContentIsNotFlat) {
  const JpegOptions o{.width = 200, .height = 150, .seed = 3};
  EXPECT_EQ(make_jpeg(o), make_jpeg(o));
  JpegOptions other = o;
  other.seed = 4;
  EXPECT_NE(make_jpeg(o), make_jpeg(other));
  // Real structure: a 200x150 q90 photo-like image is far bigger than flat colour (~1 KB).
  EXPECT_GT(make_jpeg(o).size(), 8000u);
}

// Reads every regular file under `dir` (recursively) and counts them by content.
std::map<std::string, int> formats_under(const fs::path& dir, int* misnamed) {
  std::map<std::string, int> n;
  *misnamed = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file() || e.path().filename().string()[0] == '.' || e.path().extension() == ".csv") continue;
    std::ifstream f(e.path(), std::ios::binary);
    const std::vector<uint8_t> b{std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
    const std::string format(transforms::format_name(transforms::detect_format(b.data(), b.size())));
    ++n[format];
    const std::string ext = e.path().extension().string();
    const bool named_right = (format == "JPEG" && ext == ".jpg") || (format == "PNG" && ext == ".png") ||
                             (format == "WebP" && ext == ".webp");
    *misnamed += !named_right;
  }
  return n;
}

TEST(SampleData, MixedFolderHoldsEveryFormatAndFilesNamedForAnother) {
  TempDir dir;
  write_mixed_image_folder((dir.path() / "m").string(), 24, 3, 1);
  int misnamed = 0;
  const auto n = formats_under(dir.path() / "m", &misnamed);
  EXPECT_EQ(n.at("JPEG"), 8);
  EXPECT_EQ(n.at("PNG"), 8);
  EXPECT_EQ(n.at("WebP"), 8);
  EXPECT_EQ(n.count("unknown"), 0u);
  EXPECT_EQ(misnamed, 8);  // a PNG as .jpg and a WebP as .png in every six
  EXPECT_TRUE(fs::exists(dir.path() / "m/.complete"));
}

TEST(SampleData, SegmentationSetPairsEveryImageWithAPaletteMask) {
  TempDir dir;
  write_segmentation_folders((dir.path() / "s").string(), 6, 21, 2);
  int misnamed = 0;
  EXPECT_EQ(formats_under(dir.path() / "s/masks", &misnamed).at("PNG"), 6);
  const auto images = formats_under(dir.path() / "s/images", &misnamed);
  EXPECT_EQ(images.at("JPEG") + images.at("PNG") + images.at("WebP"), 8);  // 6 pairs + 2 without a mask
  EXPECT_EQ(misnamed, 0);
  std::ifstream list(dir.path() / "s/pairs.csv");
  int lines = 0;
  for (std::string l; std::getline(list, l);) lines += !l.empty();
  EXPECT_EQ(lines, 7);  // header + 6 pairs
  EXPECT_THROW(write_segmentation_folders((dir.path() / "t").string(), 1, 300, 0), std::invalid_argument);
}

TEST(SampleData, OutOfRangeOptionsAreRejected) {
  EXPECT_THROW(make_jpeg({.width = 0}), std::invalid_argument);
  EXPECT_THROW(make_jpeg({.quality = 101}), std::invalid_argument);
}

}  // namespace
}  // namespace ferry::sample
