// Writes a seed corpus for the fuzz targets. Usage: transforms_fuzz_seeds DIR [jpeg|png|webp]
//   jpeg (default): small JPEGs of every kind the decoder handles (chroma
//        layouts, progressive, restart markers, gray, CMYK, YCCK, EXIF orientation)
//   png:  every colour type and depth, interlaced or not, with tRNS, and masks
//   webp: lossy, lossless, with alpha, animated
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "tools/gen_sample/sample_data.h"
#include "tools/gen_sample/sample_png.h"
#include "tools/gen_sample/sample_webp.h"

namespace {

using namespace ferry::sample;

void jpeg_seeds(const std::function<void(const std::vector<uint8_t>&)>& write) {
  int n = 0;
  for (auto sub : {Subsampling::k444, Subsampling::k422, Subsampling::k420, Subsampling::k440, Subsampling::kGray})
    for (bool progressive : {false, true})
      for (bool restart : {false, true}) {
        write(make_jpeg({.width = 40 + n,
                         .height = 24 + n,
                         .quality = 75,
                         .subsampling = sub,
                         .progressive = progressive,
                         .restart_markers = restart,
                         .seed = static_cast<uint64_t>(n)}));
        ++n;
      }
  write(make_jpeg({.width = 33, .height = 20, .subsampling = Subsampling::k444, .color_model = ColorModel::kCmyk}));
  write(make_jpeg({.width = 20, .height = 33, .subsampling = Subsampling::k420, .color_model = ColorModel::kYcck}));
  write(make_jpeg({.width = 30, .height = 22, .exif_orientation = 6}));
}

void png_seeds(const std::function<void(const std::vector<uint8_t>&)>& write) {
  const std::pair<PngColor, int> kinds[] = {{PngColor::kGray, 1},    {PngColor::kGray, 4},      {PngColor::kGray, 16},
                                            {PngColor::kRgb, 8},     {PngColor::kRgb, 16},      {PngColor::kPalette, 2},
                                            {PngColor::kPalette, 8}, {PngColor::kGrayAlpha, 8}, {PngColor::kRgba, 8},
                                            {PngColor::kRgba, 16}};
  int n = 0;
  for (const auto& [color, depth] : kinds)
    for (bool interlaced : {false, true}) {
      const bool trns =
          color == PngColor::kPalette || (n % 2 == 0 && (color == PngColor::kGray || color == PngColor::kRgb));
      write(make_png({.width = 13 + n,
                      .height = 9 + n % 5,
                      .color = color,
                      .bit_depth = depth,
                      .interlaced = interlaced,
                      .transparency = trns,
                      .seed = static_cast<uint64_t>(n)}));
      ++n;
    }
  write(make_mask_png({.width = 30, .height = 20, .classes = 21, .void_border = true}));
}

void webp_seeds(const std::function<void(const std::vector<uint8_t>&)>& write) {
  int n = 0;
  for (WebpKind kind : {WebpKind::kLossy, WebpKind::kLossless, WebpKind::kAnimated})
    for (bool alpha : {false, true})
      write(make_webp({.width = 21 + 5 * n,
                       .height = 17 + 3 * n,
                       .kind = kind,
                       .alpha = alpha,
                       .quality = 50,
                       .frames = 2,
                       .seed = static_cast<uint64_t>(n++)}));
}

}  // namespace

int main(int argc, char** argv) {
  const std::string format = argc == 3 ? argv[2] : "jpeg";
  if ((argc != 2 && argc != 3) || (format != "jpeg" && format != "png" && format != "webp")) {
    std::fprintf(stderr, "usage: transforms_fuzz_seeds DIR [jpeg|png|webp]\n");
    return 2;
  }
  std::filesystem::create_directories(argv[1]);
  int n = 0;
  auto write = [&](const std::vector<uint8_t>& bytes) {
    const std::string path = std::string(argv[1]) + "/seed_" + std::to_string(n++) + "." + format;
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  };
  if (format == "jpeg") jpeg_seeds(write);
  if (format == "png") png_seeds(write);
  if (format == "webp") webp_seeds(write);
  std::printf("wrote %d %s seeds to %s\n", n, format.c_str(), argv[1]);
  return 0;
}
