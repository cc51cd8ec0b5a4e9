#include "transforms/image_pipeline.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <utility>

#include "base/error.h"
#include "trace/trace.h"
#include "transforms/crop.h"
#include "transforms/detail/color_stage.h"
#include "transforms/detail/resample.h"
#include "transforms/jpeg_decoder.h"
#include "transforms/png_decoder.h"
#include "transforms/webp_decoder.h"

namespace ferry::transforms {
namespace {

constexpr std::string_view kNames[] = {"train", "val", "train_u8", "val_u8", "decode"};

// Everything a thread reuses from sample to sample, so the steady state allocates
// nothing: thread_local because one pipeline runs on many TBB threads at once.
struct ThreadScratch {
  JpegDecoder decoder;
  PngDecoder png;
  WebpDecoder webp;
  detail::AxisWeights ax, ay;
  std::vector<float> rows;
  std::vector<uint8_t> oriented;
  detail::ColorStage color;
  std::vector<float> color_rows;  // the image held back for a contrast
};

ThreadScratch& thread_scratch() {
  thread_local ThreadScratch scratch;
  return scratch;
}

// FERRY_DCT_SCALES=all lets the benchmark compare every scale against the SIMD set.
JpegDecoder::ScaleSet scale_set() {
  static const JpegDecoder::ScaleSet set = [] {
    const char* v = std::getenv("FERRY_DCT_SCALES");
    return v != nullptr && std::string_view(v) == "all" ? JpegDecoder::ScaleSet::kAll : JpegDecoder::ScaleSet::kSimd;
  }();
  return set;
}

[[noreturn]] void bad(const std::string& field, const std::string& why) {
  throw InvalidOption("PipelineSpec." + field + ": " + why);
}

// Applies EXIF orientation `o` (2..8) to `img`, into `dst`. Returns the new size.
std::pair<int, int> orient(const DecodedImage& img, int o, std::vector<uint8_t>& dst) {
  const int w = img.width, h = img.height, c = img.channels;
  const bool swap = o >= 5;
  const int ow = swap ? h : w, oh = swap ? w : h;
  dst.resize(static_cast<size_t>(ow) * static_cast<size_t>(oh) * static_cast<size_t>(c) + 16);
  for (int oy = 0; oy < oh; ++oy) {
    for (int ox = 0; ox < ow; ++ox) {
      int sx = ox, sy = oy;
      switch (o) {
        case 2:
          sx = w - 1 - ox;
          break;
        case 3:
          sx = w - 1 - ox, sy = h - 1 - oy;
          break;
        case 4:
          sy = h - 1 - oy;
          break;
        case 5:
          sx = oy, sy = ox;
          break;
        case 6:
          sx = oy, sy = h - 1 - ox;
          break;
        case 7:
          sx = w - 1 - oy, sy = h - 1 - ox;
          break;
        case 8:
          sx = w - 1 - oy, sy = ox;
          break;
        default:
          break;
      }
      const uint8_t* s = img.pixels + static_cast<size_t>(sy) * img.stride + static_cast<size_t>(sx * c);
      std::copy(
          s, s + c,
          &dst[(static_cast<size_t>(oy) * static_cast<size_t>(ow) + static_cast<size_t>(ox)) * static_cast<size_t>(c)]);
    }
  }
  return {ow, oh};
}

}  // namespace

PipelineSpec PipelineSpec::named(std::string_view name, int size) {
  PipelineSpec s;
  s.name = std::string(name);
  s.size = size;
  s.resize_size = static_cast<int>(std::lround(size * 256.0 / 224.0));
  if (name == "train_u8" || name == "val_u8" || name == "decode") {
    s.dtype = DType::kUInt8;
    s.layout = Layout::kHWC;
  }
  if (name == "decode") s.flip_p = 0.0;
  if (std::find(std::begin(kNames), std::end(kNames), name) == std::end(kNames))
    throw InvalidOption("unknown pipeline name '" + std::string(name) +
                        "'; valid names: train, val, train_u8, val_u8, decode");
  s.validate();
  return s;
}

void PipelineSpec::validate() const {
  if (std::find(std::begin(kNames), std::end(kNames), name) == std::end(kNames))
    bad("name", "'" + name + "' is not one of train, val, train_u8, val_u8, decode");
  if (size < 1 || size > 8192) bad("size", std::to_string(size) + " is outside 1..8192");
  if ((name == "val" || name == "val_u8") && (resize_size < size || resize_size > 65536))
    bad("resize_size",
        std::to_string(resize_size) + " must be in size.." + "65536 (size is " + std::to_string(size) + ")");
  if (!(scale_min > 0 && scale_min <= scale_max && scale_max <= 1))
    bad("scale_min/scale_max",
        "need 0 < scale_min <= scale_max <= 1, got " + std::to_string(scale_min) + ", " + std::to_string(scale_max));
  if (!(ratio_min > 0 && ratio_min <= ratio_max && std::isfinite(ratio_max)))
    bad("ratio_min/ratio_max",
        "need 0 < ratio_min <= ratio_max, got " + std::to_string(ratio_min) + ", " + std::to_string(ratio_max));
  if (!(flip_p >= 0 && flip_p <= 1)) bad("flip_p", std::to_string(flip_p) + " is outside 0..1");
  color_jitter.validate("PipelineSpec.color_jitter");
  if (!(grayscale_p >= 0 && grayscale_p <= 1)) bad("grayscale_p", std::to_string(grayscale_p) + " is outside 0..1");
  if (interpolation_name(interpolation) == "unknown") bad("interpolation", "must be bilinear, bicubic or nearest");
  for (int c = 0; c < 3; ++c) {
    if (!std::isfinite(mean[c])) bad("mean", "must be finite");
    if (!(std[c] > 0) || !std::isfinite(std[c])) bad("std", "every entry must be finite and > 0");
  }
  if (dtype != DType::kUInt8 && dtype != DType::kFloat32 && dtype != DType::kFloat16 && dtype != DType::kBFloat16)
    bad("dtype", std::string(dtype_name(dtype)) + " is not an image dtype (uint8, float32, float16, bfloat16)");
  if (layout != Layout::kHWC && layout != Layout::kCHW) bad("layout", "must be kHWC or kCHW");
  if (grayscale && keep_alpha) bad("keep_alpha", "a grayscale output has no alpha channel; set one of the two");
  if (max_pixels < 1) bad("max_pixels", "must be > 0");
}

ImagePipeline::ImagePipeline(PipelineSpec spec) : spec_(std::move(spec)) {
  spec_.validate();
  const std::string& n = spec_.name;
  mode_ = n == "train" || n == "train_u8" ? Mode::kTrain : n == "decode" ? Mode::kDecode : Mode::kVal;
  normalize_ = (n == "train" || n == "val") && spec_.dtype != DType::kUInt8;
}

std::vector<int64_t> ImagePipeline::output_shape() const {
  const int64_t c = spec_.channels(), s = spec_.size;
  if (spec_.layout == Layout::kHWC) return {s, s, c};
  return {c, s, s};
}

size_t ImagePipeline::output_bytes() const {
  const size_t c = static_cast<size_t>(spec_.channels()), s = static_cast<size_t>(spec_.size);
  return s * s * c * dtype_size(spec_.dtype);
}

// The per-sample choices, made from the source size before any pixel is decoded.
struct ImagePipeline::Plan {
  CropBox box;
  bool flip = false;
  ColorDraw color;
};

ImagePipeline::Plan ImagePipeline::plan(int width, int height, Rng& rng) const {
  Plan p;
  switch (mode_) {
    case Mode::kTrain: {
      const RandomResizedCrop rrc{spec_.scale_min, spec_.scale_max, spec_.ratio_min, spec_.ratio_max};
      p.box = rrc.sample(width, height, rng);
      p.flip = random_flip(spec_.flip_p, rng);
      break;
    }
    case Mode::kVal:
      p.box = resize_center_crop_box(width, height, spec_.resize_size, spec_.size);
      break;
    case Mode::kDecode:
      p.box = {0, 0, static_cast<double>(width), static_cast<double>(height)};
      break;
  }
  p.color = draw_color(spec_.color_jitter, spec_.grayscale_p, rng);
  return p;
}

namespace {

// The last step of every path: resample `img` (whose axes are in t.ax/t.ay)
// into `out`, with the plan's colour work, flip and the spec's output format.
void finish(const PipelineSpec& spec, bool normalize, const DecodedImage& img, const ColorDraw& color, bool flip,
            ThreadScratch& t, void* out) {
  trace::ScopedStage stage(trace::Stage::kAugment);
  detail::OutputFormat format;
  format.dtype = spec.dtype;
  format.chw = spec.layout == Layout::kCHW;
  format.channels = spec.channels();
  format.flip = flip;
  format.clamp = spec.interpolation == Interpolation::kBicubic;
  for (int c = 0; c < 3; ++c) {
    format.scale[c] = normalize ? 1.0f / (255.0f * spec.std[c]) : 1.0f;
    format.bias[c] = normalize ? -spec.mean[c] / spec.std[c] : 0.0f;
  }
  format.scale[3] = normalize ? 1.0f / 255.0f : 1.0f;
  format.bias[3] = 0.0f;
  detail::RowStage* rows = nullptr;
  if (!color.identity()) {
    t.color.start(color, t.ax.out_size, t.ay.out_size, t.color_rows);
    rows = &t.color;
  }
  detail::resample(img.pixels, img.stride, img.channels, img.x, img.y, t.ax, t.ay, format, out, t.rows, rows);
  if (rows != nullptr) t.color.finish(format, out);
}

PixelFormat pixel_format(const PipelineSpec& spec) {
  return spec.grayscale ? PixelFormat::kGray : spec.keep_alpha ? PixelFormat::kRgba : PixelFormat::kRgb;
}

}  // namespace

void ImagePipeline::run_jpeg(const uint8_t* data, size_t size, Rng& rng, void* out, DecodeReport& report) const {
  ThreadScratch& t = thread_scratch();
  const JpegDecodeOptions options{spec_.grayscale, spec_.exif_orientation, spec_.max_pixels, true};
  JpegHeader header;
  {
    trace::ScopedStage stage(trace::Stage::kHeader);
    header = t.decoder.read_header(data, size, options);
  }
  const bool rotated = header.orientation != 1;
  const int width = header.orientation >= 5 ? header.height : header.width;
  const int height = header.orientation >= 5 ? header.width : header.height;
  const int out_side = spec_.size;
  const Plan p = plan(width, height, rng);
  const CropBox& box = p.box;

  DecodedImage img;
  int scale_num = 8;
  {
    trace::ScopedStage stage(trace::Stage::kDecode);
    if (!rotated) {
      // Nearest must pick the file's own pixels: no DCT scaling.
      if (spec_.interpolation != Interpolation::kNearest)
        scale_num = JpegDecoder::scale_for(box.width, box.height, out_side, out_side, scale_set());
      const double f = scale_num / 8.0;
      t.ax.compute(box.x * f, box.width * f, JpegDecoder::scaled_size(width, scale_num), out_side, spec_.interpolation);
      t.ay.compute(box.y * f, box.height * f, JpegDecoder::scaled_size(height, scale_num), out_side,
                   spec_.interpolation);
      img = t.decoder.decode({scale_num, t.ax.lo, t.ay.lo, t.ax.hi - t.ax.lo, t.ay.hi - t.ay.lo});
    } else {
      // Rare and opt-in: decode everything, rotate, then crop from the rotated copy.
      img = t.decoder.decode({});
      const auto [ow, oh] = orient(img, header.orientation, t.oriented);
      img.pixels = t.oriented.data();
      img.x = img.y = 0;
      img.width = ow;
      img.height = oh;
      img.stride = static_cast<size_t>(ow) * static_cast<size_t>(img.channels);
      t.ax.compute(box.x, box.width, ow, out_side, spec_.interpolation);
      t.ay.compute(box.y, box.height, oh, out_side, spec_.interpolation);
    }
  }
  finish(spec_, normalize_, img, p.color, p.flip, t, out);
  report.width = width;
  report.height = height;
  report.box = box;
  report.flip = p.flip;
  report.color = p.color;
  report.warnings = t.decoder.warnings();
  report.dct_scale_num = scale_num;
}

// PNG and WebP: no region decode, so the whole image goes into scratch once and
// the crop is taken by the resample.
template <class Decoder>
void ImagePipeline::run_whole(Decoder& decoder, const uint8_t* data, size_t size, Rng& rng, void* out,
                              DecodeReport& report) const {
  ThreadScratch& t = thread_scratch();
  int width = 0, height = 0;
  {
    trace::ScopedStage stage(trace::Stage::kHeader);
    const auto header = decoder.read_header(data, size, spec_.max_pixels);
    width = header.width;
    height = header.height;
  }
  const Plan p = plan(width, height, rng);
  DecodedImage img;
  {
    trace::ScopedStage stage(trace::Stage::kDecode);
    img = decoder.decode(pixel_format(spec_));
  }
  t.ax.compute(p.box.x, p.box.width, width, spec_.size, spec_.interpolation);
  t.ay.compute(p.box.y, p.box.height, height, spec_.size, spec_.interpolation);
  finish(spec_, normalize_, img, p.color, p.flip, t, out);
  report.width = width;
  report.height = height;
  report.box = p.box;
  report.flip = p.flip;
  report.color = p.color;
}

void ImagePipeline::run(const uint8_t* data, size_t size, Rng& rng, void* out, DecodeReport* report) const {
  DecodeReport local;
  DecodeReport& r = report != nullptr ? *report : local;
  r = DecodeReport{};
  r.format = detect_format(data, size);
  switch (r.format) {
    case ImageFormat::kJpeg:
      run_jpeg(data, size, rng, out, r);
      break;
    case ImageFormat::kPng:
      run_whole(thread_scratch().png, data, size, rng, out, r);
      break;
    case ImageFormat::kWebp:
      run_whole(thread_scratch().webp, data, size, rng, out, r);
      break;
    case ImageFormat::kUnknown:
      throw BadSample(unknown_format_message(data, size));
  }
}

}  // namespace ferry::transforms
