#include "transforms/crop.h"

#include <algorithm>
#include <cmath>

namespace ferry::transforms {
namespace {

// Python's round(): half to even (the default floating-point rounding mode).
int round_half_even(double v) { return static_cast<int>(std::nearbyint(v)); }

}  // namespace

CropBox RandomResizedCrop::sample(int width, int height, Rng& rng) const {
  const double area = static_cast<double>(width) * height;
  const double log_lo = std::log(ratio_min), log_hi = std::log(ratio_max);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * rng.uniform(scale_min, scale_max);
    const double aspect = std::exp(rng.uniform(log_lo, log_hi));
    const int w = round_half_even(std::sqrt(target_area * aspect));
    const int h = round_half_even(std::sqrt(target_area / aspect));
    if (0 < w && w <= width && 0 < h && h <= height) {
      const int i = static_cast<int>(rng.below(static_cast<uint64_t>(height - h + 1)));
      const int j = static_cast<int>(rng.below(static_cast<uint64_t>(width - w + 1)));
      return {static_cast<double>(j), static_cast<double>(i), static_cast<double>(w), static_cast<double>(h)};
    }
  }
  const double in_ratio = static_cast<double>(width) / height;
  int w = width, h = height;
  if (in_ratio < ratio_min) {
    h = round_half_even(w / ratio_min);
  } else if (in_ratio > ratio_max) {
    w = round_half_even(h * ratio_max);
  }
  return {static_cast<double>((width - w) / 2), static_cast<double>((height - h) / 2), static_cast<double>(w),
          static_cast<double>(h)};
}

CropBox resize_center_crop_box(int width, int height, int resize_shorter, int crop) {
  const int shorter = std::min(width, height), longer = std::max(width, height);
  const int new_long = static_cast<int>(static_cast<double>(resize_shorter) * longer / shorter);
  const int new_w = width <= height ? resize_shorter : new_long;
  const int new_h = width <= height ? new_long : resize_shorter;
  const int top = round_half_even((new_h - crop) / 2.0), left = round_half_even((new_w - crop) / 2.0);
  const double sx = static_cast<double>(width) / new_w, sy = static_cast<double>(height) / new_h;
  return {left * sx, top * sy, crop * sx, crop * sy};
}

}  // namespace ferry::transforms
