#pragma once
/// JPEG decoding with libjpeg-turbo's libjpeg API, built for a data loader:
/// region-of-interest and DCT-scaled decoding, a pixel limit checked before any
/// allocation, and every libjpeg error turned into ferry::BadSample.
///
///   JpegDecoder dec;                                 // one per thread; reusable
///   JpegHeader h = dec.read_header(bytes, size, {});
///   int n = JpegDecoder::scale_for(crop_w, crop_h, 224, 224);   // DCT scale n/8
///   DecodedImage img = dec.decode({.scale_num = n, .x = .., .y = .., .width = .., .height = ..});
///
/// Colour handling: baseline and progressive, grayscale, YCbCr (4:4:4, 4:2:2,
/// 4:2:0, 4:4:0 and others), RGB, and Adobe CMYK/YCCK all come out as RGB, or as
/// one gray channel when asked. Grayscale files decode as one channel even when RGB
/// is asked (`DecodedImage::channels == 1`), so callers expand it late and cheaply.
///
/// Errors: libjpeg's errors, and its warnings that mean pixel data was lost
/// (premature end of file, bad Huffman code, premature end of a data segment, a
/// wrong restart marker), throw ferry::BadSample with libjpeg's message. Other
/// warnings (extraneous bytes before a marker, unknown markers) are counted in
/// `warnings()`. Like every libjpeg-based reader, corruption that still parses
/// as valid entropy codes (libjpeg-turbo's fast Huffman path decodes an invalid
/// code as 0 without a warning) cannot be detected and gives wrong pixels; rows
/// below a decoded region are never read, so damage there goes unnoticed.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "transforms/decoded_image.h"

namespace ferry::transforms {

struct JpegDecodeOptions {
  bool grayscale = false;            ///< one gray channel instead of RGB
  bool exif_orientation = false;     ///< read the EXIF Orientation tag (see JpegHeader::orientation)
  int64_t max_pixels = 178'956'970;  ///< width*height above this is rejected before allocating (Pillow's limit)
  bool fail_on_data_loss = true;     ///< data-loss warnings throw BadSample; false: count them only
};

struct JpegHeader {
  int width = 0;  ///< stored (not EXIF-rotated) size
  int height = 0;
  int components = 0;  ///< 1 (gray), 3 (YCbCr/RGB) or 4 (CMYK/YCCK)
  bool progressive = false;
  int orientation = 1;  ///< EXIF orientation 1..8 when asked for and present, else 1
};

/// A region to decode, in the coordinates of the image scaled by scale_num/8.
struct DecodeRegion {
  int scale_num = 8;  ///< DCT scale numerator, 1..8 (denominator 8)
  int x = 0, y = 0;   ///< top-left of the wanted region
  int width = -1;     ///< -1: to the right edge
  int height = -1;    ///< -1: to the bottom edge
};

class JpegDecoder {
 public:
  JpegDecoder();
  ~JpegDecoder();
  JpegDecoder(const JpegDecoder&) = delete;
  JpegDecoder& operator=(const JpegDecoder&) = delete;

  /// Parses the headers of `data` (which must stay alive until decode returns).
  /// Throws BadSample for non-JPEG, corrupt or empty input and for images over max_pixels.
  JpegHeader read_header(const uint8_t* data, size_t size, const JpegDecodeOptions& options);

  /// Decodes `region` of the image whose header was read last. The region is
  /// clipped to the image. Throws BadSample on corrupt data.
  DecodedImage decode(const DecodeRegion& region);

  /// Size of the whole image at DCT scale n/8 (libjpeg rounds up).
  static int scaled_size(int size, int scale_num) { return (size * scale_num + 7) / 8; }

  /// Which DCT scales n/8 scale_for may pick.
  enum class ScaleSet : uint8_t {
    kAll,   ///< every n in 1..8
    kSimd,  ///< 1/8, 2/8, 4/8 and 8/8: libjpeg-turbo has SIMD IDCTs only for these; its
            ///< plain-C 3/8, 5/8, 6/8 and 7/8 IDCTs decode slower than SIMD 8/8 on x86
  };

  /// The smallest n in `set` with crop_w*n/8 >= out_w and crop_h*n/8 >= out_h, else 8.
  static int scale_for(double crop_w, double crop_h, int out_w, int out_h, ScaleSet set = ScaleSet::kAll);

  /// Benign warnings seen since the last read_header (or all warnings when
  /// fail_on_data_loss is false).
  int warnings() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace ferry::transforms
