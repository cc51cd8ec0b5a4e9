// ferry-gen-sample: writes a synthetic ImageFolder of JPEGs (or of mixed
// formats), or a segmentation set of images and masks.
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>

#include "tools/cli/cli.h"
#include "tools/gen_sample/sample_data.h"
#include "tools/gen_sample/sample_folders.h"

namespace {

constexpr const char* kDescription =
    "Writes a synthetic data set into DIR and DIR/.complete when done.\n"
    "  --kind jpeg (default): N JPEGs (ImageNet-like sizes, quality 90, 4:2:0) in DIR/class_XXX/img_YYYYY.jpg\n"
    "  --kind mixed: N images in the same layout cycling through JPEG, PNG (every colour type) and WebP\n"
    "    (lossy, lossless, animated), some named with another format's extension (a PNG as .jpg, a WebP as .png)\n"
    "  --kind segmentation: N (image, mask) pairs, DIR/images/seg_XXXXX.{jpg,png,webp} and\n"
    "    DIR/masks/seg_XXXXX.png (palette class ids 0..K-1, 255 = void border), plus DIR/pairs.csv\n"
    "    (image,mask); K at most 255";

}  // namespace

int main(int argc, char** argv) {
  std::string out;
  int images = 0, classes = 0;
  uint64_t seed = 0;
  bool quiet = false;
  std::string kind = "jpeg";
  CLI::App app{kDescription, "ferry-gen-sample"};
  app.add_option("--out", out, "the folder to write")->type_name("DIR")->required();
  app.add_option("--images", images, "how many images (image/mask pairs for --kind segmentation)")
      ->type_name("N")
      ->required()
      ->check(ferry::cli::integer_in(1, 10'000'000));
  app.add_option("--classes", classes, "how many class folders (mask classes for --kind segmentation)")
      ->type_name("K")
      ->required()
      ->check(ferry::cli::integer_in(1, 1000));
  ferry::cli::add_named_choice(
      app, "--kind", {"jpeg", "mixed", "segmentation"}, kind, [&](const std::string& v) { kind = v; }, "what to write");
  app.add_option("--seed", seed, "seed of the image contents")
      ->check(ferry::cli::unsigned_integer())
      ->capture_default_str();
  app.add_flag("--quiet", quiet, "no progress lines")->disable_flag_override();
  if (const auto status = ferry::cli::parse(app, argc, argv)) return *status;

  int last_percent = -1;
  const ferry::sample::Progress progress = [&](int done, int total) {
    const int percent = done * 10 / total * 10;
    if (quiet || percent == last_percent) return;
    last_percent = percent;
    std::printf("ferry-gen-sample: %d/%d images (%d%%)\n", done, total, percent);
    std::fflush(stdout);
  };
  try {
    if (kind == "mixed") {
      ferry::sample::write_mixed_image_folder(out, images, classes, seed, progress);
    } else if (kind == "segmentation") {
      ferry::sample::write_segmentation_folders(out, images, classes, seed, progress);
    } else {
      ferry::sample::write_image_folder(out, images, classes, seed, progress);
    }
  } catch (const std::invalid_argument& e) {
    // The writers own their limits (e.g. at most 255 mask classes): usage errors.
    std::fprintf(stderr, "ferry-gen-sample: %s\n%s", e.what(), app.help().c_str());
    return ferry::cli::kUsageExit;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ferry-gen-sample: %s\n", e.what());
    return 1;
  }
  if (!quiet)
    std::printf("ferry-gen-sample: wrote %d %s (%s) in %d classes to %s\n", images,
                kind == "segmentation" ? "image/mask pairs" : "images", kind.c_str(), classes, out.c_str());
  return 0;
}
