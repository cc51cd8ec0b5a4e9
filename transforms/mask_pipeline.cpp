#include "transforms/mask_pipeline.h"

#include <string>

#include "base/error.h"
#include "trace/trace.h"
#include "transforms/detail/resample.h"
#include "transforms/jpeg_decoder.h"
#include "transforms/png_decoder.h"

namespace ferry::transforms {
namespace {

// Per-thread decoders and index tables, reused from sample to sample.
struct MaskScratch {
  PngDecoder png;
  JpegDecoder jpeg;
  std::vector<uint16_t> gray;  // a JPEG mask's values widened to 16 bits
  std::vector<int> xs, ys;
};

MaskScratch& mask_scratch() {
  thread_local MaskScratch scratch;
  return scratch;
}

// The mask's class ids, decoded whole.
LabelImage decode_labels(MaskScratch& t, const uint8_t* data, size_t size, int64_t max_pixels) {
  switch (detect_format(data, size)) {
    case ImageFormat::kPng:
      t.png.read_header(data, size, max_pixels);
      return t.png.decode_labels();
    case ImageFormat::kJpeg: {
      const JpegHeader h = t.jpeg.read_header(data, size, {.grayscale = true, .max_pixels = max_pixels});
      const DecodedImage img = t.jpeg.decode({});
      t.gray.resize(static_cast<size_t>(h.width) * static_cast<size_t>(h.height));
      for (int y = 0; y < h.height; ++y)
        for (int x = 0; x < h.width; ++x)
          t.gray[static_cast<size_t>(y) * static_cast<size_t>(h.width) + static_cast<size_t>(x)] =
              img.pixels[static_cast<size_t>(y) * img.stride + static_cast<size_t>(x)];
      return {t.gray.data(), h.width, h.height};
    }
    case ImageFormat::kWebp:
      throw BadSample("a mask must be a palette or grayscale PNG (or a grayscale JPEG); this one is WebP");
    case ImageFormat::kUnknown:
      break;
  }
  throw BadSample("mask: " + unknown_format_message(data, size));
}

// Writes the picked ids; returns the largest one.
template <typename T>
unsigned gather(const LabelImage& labels, const std::vector<int>& xs, const std::vector<int>& ys, bool flip, T* out) {
  const size_t w = xs.size();
  unsigned largest = 0;
  for (size_t y = 0; y < ys.size(); ++y) {
    const uint16_t* row = labels.values + static_cast<size_t>(ys[y]) * static_cast<size_t>(labels.width);
    T* o = out + y * w;
    for (size_t x = 0; x < w; ++x) {
      const uint16_t v = row[xs[x]];
      largest = v > largest ? v : largest;
      o[flip ? w - 1 - x : x] = static_cast<T>(v);
    }
  }
  return largest;
}

}  // namespace

MaskPipeline::MaskPipeline(const PipelineSpec& image_spec, DType dtype)
    : size_(image_spec.size), max_pixels_(image_spec.max_pixels), dtype_(dtype) {
  image_spec.validate();
  if (dtype != DType::kUInt8 && dtype != DType::kInt64)
    throw InvalidOption("MaskPipeline: mask dtype " + std::string(dtype_name(dtype)) +
                        " is not one of uint8, int64 (class ids)");
}

std::vector<int64_t> MaskPipeline::output_shape() const { return {size_, size_}; }

size_t MaskPipeline::output_bytes() const {
  return static_cast<size_t>(size_) * static_cast<size_t>(size_) * dtype_size(dtype_);
}

void MaskPipeline::run(const uint8_t* data, size_t size, const DecodeReport& image, void* out) const {
  MaskScratch& t = mask_scratch();
  LabelImage labels;
  {
    trace::ScopedStage stage(trace::Stage::kDecode);
    labels = decode_labels(t, data, size, max_pixels_);
  }
  if (labels.width != image.width || labels.height != image.height)
    throw BadSample("mask is " + std::to_string(labels.width) + "x" + std::to_string(labels.height) +
                    " but its image is " + std::to_string(image.width) + "x" + std::to_string(image.height) +
                    "; a mask must have its image's size");
  trace::ScopedStage stage(trace::Stage::kAugment);
  detail::nearest_indices(image.box.x, image.box.width, labels.width, size_, t.xs);
  detail::nearest_indices(image.box.y, image.box.height, labels.height, size_, t.ys);
  if (dtype_ == DType::kInt64) {
    gather(labels, t.xs, t.ys, image.flip, static_cast<int64_t*>(out));
    return;
  }
  const unsigned largest = gather(labels, t.xs, t.ys, image.flip, static_cast<uint8_t*>(out));
  if (largest > 255)
    throw BadSample("mask class id " + std::to_string(largest) +
                    " does not fit the uint8 mask output; use int64 masks");
}

}  // namespace ferry::transforms
