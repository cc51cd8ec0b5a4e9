#pragma once
// Internal: the one check (and message) for an image over the pixel limit,
// shared by every decoder and run on the header, before any pixel allocation.
#include <cstdint>
#include <string_view>

namespace ferry::transforms::detail {

/// Throws BadSample "<format> decode failed: image is WxH = N pixels, over the
/// limit of M (a decompression bomb?); ..." when width*height > max_pixels or
/// either side is not positive.
void check_pixel_limit(std::string_view format, int64_t width, int64_t height, int64_t max_pixels);

}  // namespace ferry::transforms::detail
