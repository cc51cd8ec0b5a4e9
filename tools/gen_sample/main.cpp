// ferry-gen-sample: writes a synthetic ImageFolder dataset of JPEGs.
#include <charconv>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>

#include "tools/gen_sample/sample_data.h"

namespace {

constexpr const char* kUsage =
    "usage: ferry-gen-sample --out DIR --images N --classes K [--seed S] [--quiet]\n"
    "  Writes N synthetic JPEGs (ImageNet-like sizes, quality 90, 4:2:0) into\n"
    "  DIR/class_XXX/img_YYYYY.jpg and DIR/.complete when done.\n";

int usage_error(const std::string& message) {
  std::fprintf(stderr, "ferry-gen-sample: %s\n%s", message.c_str(), kUsage);
  return 2;
}

template <typename T>
bool parse_number(std::string_view text, T* value) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

int main(int argc, char** argv) {
  std::string out;
  long long images = -1, classes = -1;
  unsigned long long seed = 0;
  bool quiet = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (arg == "--quiet") {
      quiet = true;
      continue;
    }
    if (arg != "--out" && arg != "--images" && arg != "--classes" && arg != "--seed")
      return usage_error("unknown argument '" + std::string(arg) + "'");
    if (i + 1 >= argc) return usage_error(std::string(arg) + " needs a value");
    const std::string_view value = argv[++i];
    if (arg == "--out") {
      out = value;
    } else if (arg == "--images") {
      if (!parse_number(value, &images) || images < 1 || images > 10'000'000)
        return usage_error("--images must be an integer in 1..10000000, got '" + std::string(value) + "'");
    } else if (arg == "--classes") {
      if (!parse_number(value, &classes) || classes < 1 || classes > 1000)
        return usage_error("--classes must be an integer in 1..1000, got '" + std::string(value) + "'");
    } else if (!parse_number(value, &seed)) {
      return usage_error("--seed must be a non-negative integer, got '" + std::string(value) + "'");
    }
  }
  if (out.empty()) return usage_error("--out DIR is required");
  if (images < 0) return usage_error("--images N is required");
  if (classes < 0) return usage_error("--classes K is required");

  try {
    int last_percent = -1;
    ferry::sample::write_image_folder(out, static_cast<int>(images), static_cast<int>(classes), seed,
                                      [&](int done, int total) {
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
  if (!quiet) std::printf("ferry-gen-sample: wrote %lld images in %lld classes to %s\n", images, classes, out.c_str());
  return 0;
}
