#pragma once
// The pipelines every fuzz target runs its input through: train, val, decode,
// with colour augmentation, every interpolation, alpha and gray outputs, and a
// mask that follows the image. Only BadSample may come out.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/error.h"
#include "base/rng.h"
#include "transforms/decoded_image.h"
#include "transforms/image_pipeline.h"
#include "transforms/mask_pipeline.h"

namespace ferry::fuzz {

// Keeps each input cheap; the limit itself is tested in the decoder tests.
constexpr int64_t kMaxPixels = 4'000'000;

inline transforms::PipelineSpec fuzz_spec(const char* name, int size) {
  transforms::PipelineSpec s = transforms::PipelineSpec::named(name, size);
  s.max_pixels = kMaxPixels;
  s.exif_orientation = true;
  return s;
}

// The input's header and a decode into every pixel format, by a decoder of
// PngDecoder's and WebpDecoder's shape.
template <class Decoder>
void decode_every_format(Decoder& decoder, const uint8_t* data, size_t size) {
  using transforms::PixelFormat;
  for (PixelFormat format : {PixelFormat::kRgb, PixelFormat::kGray, PixelFormat::kRgba}) {
    try {
      decoder.read_header(data, size, kMaxPixels);
      decoder.decode(format);
    } catch (const BadSample&) {
    }
  }
}

inline void run_pipelines(const uint8_t* data, size_t size) {
  using transforms::ImagePipeline;
  static const std::vector<ImagePipeline> pipelines = [] {
    std::vector<ImagePipeline> p;
    auto train = fuzz_spec("train", 32);
    train.color_jitter = transforms::ColorJitter::from_strengths(0.4, 0.4, 0.4, 0.1);
    train.grayscale_p = 0.5;
    p.emplace_back(train);
    auto val = fuzz_spec("val_u8", 48);
    val.interpolation = transforms::Interpolation::kBicubic;
    val.keep_alpha = true;
    p.emplace_back(val);
    auto gray = fuzz_spec("decode", 16);
    gray.grayscale = true;
    gray.interpolation = transforms::Interpolation::kNearest;
    p.emplace_back(gray);
    return p;
  }();
  static const transforms::MaskPipeline mask(pipelines[0].spec(), DType::kInt64);
  static std::vector<uint8_t> out(pipelines[1].output_bytes() * 4);
  Rng rng(size);
  for (const ImagePipeline& p : pipelines) {
    try {
      transforms::DecodeReport report;
      p.run(data, size, rng, out.data(), &report);
      // The input as its own mask: same size by construction.
      if (&p == &pipelines[0]) mask.run(data, size, report, out.data());
    } catch (const BadSample&) {
    }
  }
}

}  // namespace ferry::fuzz
