#include "transforms/detail/pixel_limit.h"

#include <string>

#include "base/error.h"

namespace ferry::transforms::detail {

void check_pixel_limit(std::string_view format, int64_t width, int64_t height, int64_t max_pixels) {
  const bool empty = width < 1 || height < 1;
  if (!empty && width * height <= max_pixels) return;  // the hot path builds no message
  const std::string what =
      std::string(format) + " decode failed: image is " + std::to_string(width) + "x" + std::to_string(height);
  if (empty) throw BadSample(what + ", which has no pixels");
  throw BadSample(what + " = " + std::to_string(width * height) + " pixels, over the limit of " +
                  std::to_string(max_pixels) + " (a decompression bomb?); raise max_pixels if the file is genuine");
}

}  // namespace ferry::transforms::detail
