// Writes the seed corpus for transforms_fuzz: small JPEGs of every kind the
// decoder handles (chroma layouts, progressive, restart markers, gray, CMYK,
// YCCK, EXIF orientation). Usage: transforms_fuzz_seeds DIR
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "tools/gen_sample/sample_data.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: transforms_fuzz_seeds DIR\n");
    return 2;
  }
  using namespace ferry::sample;
  std::filesystem::create_directories(argv[1]);
  int n = 0;
  auto write = [&](const JpegOptions& o) {
    const auto bytes = make_jpeg(o);
    const std::string path = std::string(argv[1]) + "/seed_" + std::to_string(n++) + ".jpg";
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  };
  for (auto sub : {Subsampling::k444, Subsampling::k422, Subsampling::k420, Subsampling::k440, Subsampling::kGray})
    for (bool progressive : {false, true})
      for (bool restart : {false, true})
        write({.width = 40 + n,
               .height = 24 + n,
               .quality = 75,
               .subsampling = sub,
               .progressive = progressive,
               .restart_markers = restart,
               .seed = static_cast<uint64_t>(n)});
  write({.width = 33, .height = 20, .subsampling = Subsampling::k444, .color_model = ColorModel::kCmyk});
  write({.width = 20, .height = 33, .subsampling = Subsampling::k420, .color_model = ColorModel::kYcck});
  write({.width = 30, .height = 22, .exif_orientation = 6});
  std::printf("wrote %d seeds to %s\n", n, argv[1]);
  return 0;
}
