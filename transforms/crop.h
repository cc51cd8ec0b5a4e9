#pragma once
/// Crop boxes of the standard torchvision transforms, in source pixels.
///
/// ImagePipeline never materializes a resized image: it turns
/// Resize/CenterCrop/RandomResizedCrop into one box of the source and resamples
/// that box straight to the output size (Pillow's `resize(size, box=...)`), which
/// gives the same pixels as resizing first and cropping after.
#include "base/rng.h"

namespace ferry::transforms {

/// A box in source pixel coordinates; fractional for Resize+CenterCrop.
struct CropBox {
  double x = 0, y = 0, width = 0, height = 0;
  bool operator==(const CropBox&) const = default;
};

/// torchvision.transforms.RandomResizedCrop.get_params, draw for draw: up to 10
/// attempts with area ~ U(scale) and log(ratio) ~ U(log ratio), then the central
/// fallback. Uses 4 draws of `rng` per attempt. Rounds half to even like Python.
struct RandomResizedCrop {
  double scale_min = 0.08, scale_max = 1.0;
  double ratio_min = 3.0 / 4, ratio_max = 4.0 / 3;
  CropBox sample(int width, int height, Rng& rng) const;
};

/// torchvision Resize(resize_shorter) then CenterCrop(crop), as one box of the
/// source. The shorter side becomes `resize_shorter`, the longer
/// int(resize_shorter * long / short), as torchvision computes it.
CropBox resize_center_crop_box(int width, int height, int resize_shorter, int crop);

/// RandomHorizontalFlip(p): true with probability p (always one draw, as torchvision).
inline bool random_flip(double p, Rng& rng) { return rng.uniform() < p; }

}  // namespace ferry::transforms
