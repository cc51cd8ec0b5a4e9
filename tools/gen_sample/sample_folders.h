#pragma once
/// Generated data sets beyond all-JPEG ImageFolders: an ImageFolder of mixed
/// formats (with files whose extension lies about their content), and a
/// segmentation set of images and palette masks in parallel folders.
///
///   ferry::sample::write_mixed_image_folder("/tmp/mixed", 60, 4, 0);
///   ferry::sample::write_segmentation_folders("/tmp/seg", 40, 21, 0);
#include <cstdint>
#include <string>

#include "tools/gen_sample/sample_data.h"

namespace ferry::sample {

/// Writes `images` files into dir/class_XXX/img_YYYYY.<ext> (image i in class
/// i % classes), 120..260 pixels a side, cycling through: JPEG (.jpg), JPEG
/// (.jpg), PNG (.png; RGB, palette, 16-bit gray, interlaced RGBA, gray+alpha in
/// turn), WebP (.webp; lossy, lossless with alpha, animated in turn), a PNG
/// named .jpg, and a WebP named .png. Then an empty dir/.complete. Throws
/// std::runtime_error on I/O failure.
void write_mixed_image_folder(const std::string& dir, int images, int classes, uint64_t seed,
                              const Progress& progress = {});

/// Writes `pairs` (image, mask) pairs: dir/images/seg_XXXXX.<jpg|png|webp> (in
/// turn) and dir/masks/seg_XXXXX.png (palette class ids 0..classes-1 with a 255
/// void border, as Pascal VOC), 140..300 pixels a side; two more images
/// without a mask (dir/images/unlabelled_*.jpg); dir/pairs.csv listing
/// image,mask relative to dir; then dir/.complete.
void write_segmentation_folders(const std::string& dir, int pairs, int classes, uint64_t seed,
                                const Progress& progress = {});

}  // namespace ferry::sample
