#pragma once
/// Synthetic JPEGs with real image structure (gradients, shapes, texture and
/// noise), for tests, fuzz seeds and the README's sample dataset. Flat colour
/// would decode unrealistically fast; these files compress and decode like
/// photographs of similar size.
///
///   auto bytes = ferry::sample::make_jpeg({.width = 320, .height = 240, .seed = 7});
///   ferry::sample::write_image_folder("/tmp/data", 1000, 10, 0);
///
/// Everything is deterministic in `seed` (ferry::Rng, no std:: distributions).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ferry::sample {

/// Chroma layout of a colour JPEG, or a single-channel (grayscale) JPEG.
enum class Subsampling : uint8_t { k444, k422, k420, k440, kGray };

/// Colour model of the file: the usual YCbCr, or Adobe CMYK / YCCK (4 channels).
enum class ColorModel : uint8_t { kYCbCr, kCmyk, kYcck };

struct JpegOptions {
  int width = 320;                              ///< pixels, 1..65500
  int height = 240;                             ///< pixels, 1..65500
  int quality = 90;                             ///< libjpeg quality, 1..100
  Subsampling subsampling = Subsampling::k420;  ///< kGray writes one channel
  ColorModel color_model = ColorModel::kYCbCr;  ///< ignored for kGray
  bool progressive = false;                     ///< progressive (multi-scan) coding
  bool restart_markers = false;                 ///< a restart marker every MCU row
  int exif_orientation = 0;                     ///< 1..8 writes an EXIF APP1 with that tag; 0 none
  uint64_t seed = 0;                            ///< picks colours, shapes and noise
};

/// The RGB pixels (height x width x 3, row-major) that make_jpeg compresses.
std::vector<uint8_t> render_rgb(int width, int height, uint64_t seed);

/// Encodes a synthetic image with libjpeg. Throws std::invalid_argument for
/// out-of-range options.
std::vector<uint8_t> make_jpeg(const JpegOptions& options);

/// Called after each written file with (files written, files in total).
using Progress = std::function<void(int done, int total)>;

/// Writes `images` JPEGs into an ImageFolder layout:
///   dir/class_000/img_00000.jpg ... dir/class_{classes-1}/img_{images-1}.jpg
/// Image i goes to class i % classes; its size is 300..500 x 300..500, quality
/// 90, 4:2:0; about one in 40 is grayscale and one in 25 progressive. An empty
/// file `dir/.complete` is written last, so a reader can tell a finished set
/// from an interrupted one. Throws std::runtime_error on I/O failure.
void write_image_folder(const std::string& dir, int images, int classes, uint64_t seed, const Progress& progress = {});

/// The options write_image_folder uses for image `index` (so tests can predict sizes).
JpegOptions image_folder_options(int index, uint64_t seed);

}  // namespace ferry::sample
