#include "transforms/detail/pixel_limit.h"

#include <string>

#include "base/error.h"

namespace ferry::transforms::detail {

void check_pixel_limit(std::string_view format, int64_t width, int64_t height, int64_t max_pixels) {
  const std::string what = std::string(format) + " decode failed: image is " + std::to_string(width) + "x" +
                           std::to_string(height);
  if (width < 1 || height < 1) throw BadSample(what + ", which has no pixels");
  const int64_t pixels = width * height;
  if (pixels > max_pixels) {
    throw BadSample(what + " = " + std::to_string(pixels) + " pixels, over the limit of " + std::to_string(max_pixels) +
                    " (a decompression bomb?); raise max_pixels if the file is genuine");
  }
}

}  // namespace ferry::transforms::detail
