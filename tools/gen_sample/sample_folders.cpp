#include "tools/gen_sample/sample_folders.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <vector>

#include "base/rng.h"
#include "tools/gen_sample/sample_png.h"
#include "tools/gen_sample/sample_webp.h"

namespace ferry::sample {
namespace {

namespace fs = std::filesystem;

void write_bytes(const fs::path& path, const std::vector<uint8_t>& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!f) throw std::runtime_error("cannot write " + path.string());
}

void mark_complete(const fs::path& root) {
  std::ofstream done(root / ".complete", std::ios::trunc);
  if (!done) throw std::runtime_error("cannot write " + (root / ".complete").string());
}

PngOptions png_kind(int k, int w, int h, uint64_t seed) {
  switch (k % 5) {
    case 0:
      return {.width = w, .height = h, .color = PngColor::kRgb, .seed = seed};
    case 1:
      return {.width = w, .height = h, .color = PngColor::kPalette, .transparency = true, .seed = seed};
    case 2:
      return {.width = w, .height = h, .color = PngColor::kGray, .bit_depth = 16, .seed = seed};
    case 3:
      return {.width = w, .height = h, .color = PngColor::kRgba, .interlaced = true, .seed = seed};
    default:
      return {.width = w, .height = h, .color = PngColor::kGrayAlpha, .seed = seed};
  }
}

WebpOptions webp_kind(int k, int w, int h, uint64_t seed) {
  const WebpKind kinds[] = {WebpKind::kLossy, WebpKind::kLossless, WebpKind::kAnimated};
  return {.width = w, .height = h, .kind = kinds[k % 3], .alpha = k % 3 == 1, .seed = seed};
}

}  // namespace

void write_mixed_image_folder(const std::string& dir, int images, int classes, uint64_t seed,
                              const Progress& progress) {
  if (images < 0 || classes < 1)
    throw std::invalid_argument("write_mixed_image_folder: need images >= 0 and classes >= 1");
  const fs::path root(dir);
  fs::remove(root / ".complete");
  for (int i = 0; i < images; ++i) {
    Rng rng(mix_seed(seed, static_cast<uint64_t>(i)));
    const int w = 120 + static_cast<int>(rng.below(141)), h = 120 + static_cast<int>(rng.below(141));
    const uint64_t s = rng.next_u64();
    const int k = i / 6;  // which variant of the format
    std::vector<uint8_t> bytes;
    const char* ext = ".jpg";
    switch (i % 6) {
      case 0:
      case 1:
        bytes = make_jpeg({.width = w, .height = h, .progressive = k % 4 == 1, .seed = s});
        break;
      case 2:
        bytes = make_png(png_kind(k, w, h, s));
        ext = ".png";
        break;
      case 3:
        bytes = make_webp(webp_kind(k, w, h, s));
        ext = ".webp";
        break;
      case 4:  // a PNG behind a .jpg name, as some scraped sets (and ImageNet) hold
        bytes = make_png(png_kind(k + 1, w, h, s));
        break;
      default:
        bytes = make_webp(webp_kind(k + 1, w, h, s));
        ext = ".png";
        break;
    }
    char name[64];
    std::snprintf(name, sizeof name, "class_%03d/img_%05d%s", i % classes, i, ext);
    write_bytes(root / name, bytes);
    if (progress) progress(i + 1, images);
  }
  mark_complete(root);
}

void write_segmentation_folders(const std::string& dir, int pairs, int classes, uint64_t seed,
                                const Progress& progress) {
  if (pairs < 1 || classes < 1 || classes > 255)
    throw std::invalid_argument("write_segmentation_folders: need pairs >= 1 and classes in 1..255");
  const fs::path root(dir);
  fs::remove(root / ".complete");
  std::string list = "image,mask\n";
  for (int i = 0; i < pairs; ++i) {
    Rng rng(mix_seed(seed, static_cast<uint64_t>(i)));
    const int w = 140 + static_cast<int>(rng.below(161)), h = 140 + static_cast<int>(rng.below(161));
    const uint64_t s = rng.next_u64();
    std::vector<uint8_t> image;
    const char* ext = i % 3 == 0 ? ".jpg" : i % 3 == 1 ? ".png" : ".webp";
    if (i % 3 == 0) image = make_jpeg({.width = w, .height = h, .seed = s});
    if (i % 3 == 1) image = make_png({.width = w, .height = h, .seed = s});
    if (i % 3 == 2) image = make_webp({.width = w, .height = h, .seed = s});
    char stem[32];
    std::snprintf(stem, sizeof stem, "seg_%05d", i);
    write_bytes(root / "images" / (std::string(stem) + ext), image);
    write_bytes(root / "masks" / (std::string(stem) + ".png"),
                make_mask_png({.width = w, .height = h, .classes = classes, .void_border = true, .seed = s}));
    list += "images/" + std::string(stem) + ext + ",masks/" + stem + ".png\n";
    if (progress) progress(i + 1, pairs);
  }
  for (int i = 0; i < 2; ++i)
    write_bytes(root / "images" / ("unlabelled_" + std::to_string(i) + ".jpg"),
                make_jpeg({.width = 100, .height = 80, .seed = seed + static_cast<uint64_t>(i)}));
  std::ofstream(root / "pairs.csv", std::ios::trunc) << list;
  mark_complete(root);
}

}  // namespace ferry::sample
