// ferry-gen-sample: writes a synthetic ImageFolder dataset of JPEGs.
#include <cstdio>
#include <exception>
#include <string>

#include "tools/cli/cli.h"
#include "tools/gen_sample/sample_data.h"

int main(int argc, char** argv) {
  std::string out;
  int images = 0, classes = 0;
  uint64_t seed = 0;
  bool quiet = false;
  CLI::App app{
      "Writes N synthetic JPEGs (ImageNet-like sizes, quality 90, 4:2:0) into DIR/class_XXX/img_YYYYY.jpg and "
      "DIR/.complete when done.",
      "ferry-gen-sample"};
  app.add_option("--out", out, "the folder to write")->type_name("DIR")->required();
  app.add_option("--images", images, "how many images")
      ->type_name("N")
      ->required()
      ->check(ferry::cli::integer_in(1, 10'000'000));
  app.add_option("--classes", classes, "how many class folders")
      ->type_name("K")
      ->required()
      ->check(ferry::cli::integer_in(1, 1000));
  app.add_option("--seed", seed, "seed of the image contents")
      ->check(ferry::cli::unsigned_integer())
      ->capture_default_str();
  app.add_flag("--quiet", quiet, "no progress lines")->disable_flag_override();
  if (const auto status = ferry::cli::parse(app, argc, argv)) return *status;

  try {
    int last_percent = -1;
    ferry::sample::write_image_folder(out, images, classes, seed, [&](int done, int total) {
      const int percent = done * 10 / total * 10;
      if (quiet || percent == last_percent) return;
      last_percent = percent;
      std::printf("ferry-gen-sample: %d/%d images (%d%%)\n", done, total, percent);
      std::fflush(stdout);
    });
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ferry-gen-sample: %s\n", e.what());
    return 1;
  }
  if (!quiet) std::printf("ferry-gen-sample: wrote %d images in %d classes to %s\n", images, classes, out.c_str());
  return 0;
}
