#include "transforms/detail/color_stage.h"

#include <algorithm>
#include <cmath>

namespace ferry::transforms::detail {
namespace {

// torchvision's rgb_to_grayscale weights.
inline float gray_of(const float* p) { return 0.2989f * p[0] + 0.587f * p[1] + 0.114f * p[2]; }

inline float clamp255(float v) { return std::min(std::max(v, 0.0f), 255.0f); }

// torchvision's _rgb2hsv, hue shift and _hsv2rgb for one pixel of 0..255
// values, without branches: the (maxc - x) / cr differences share one
// reciprocal, fmod becomes a wrap, and the six-sector table of _hsv2rgb is the
// equivalent closed form x = v - (v * s) * clamp(min(k, 4 - k), 0, 1) with
// k = (n + 6h) mod 6, n = 5, 3, 1 for R, G, B (its clamps of p, q and t never
// bind, as p, q, t lie between min and max of the pixel).
inline void shift_hue(float* p, float shift) {
  const float r = p[0], g = p[1], b = p[2];
  const float maxc = std::max(r, std::max(g, b)), minc = std::min(r, std::min(g, b));
  const float cr = maxc - minc;
  const float inv = cr > 0 ? 1.0f / cr : 0.0f;  // gray pixels: cr = 0, and they stay as they are
  float h = maxc == r ? (g - b) * inv : maxc == g ? 2.0f + (b - r) * inv : 4.0f + (r - g) * inv;
  h = h * (1.0f / 6.0f) + shift;
  h -= std::floor(h);  // Python's % 1.0
  const float h6 = h * 6.0f;
  for (int c = 0; c < 3; ++c) {
    float k = static_cast<float>(5 - 2 * c) + h6;
    k -= k >= 6.0f ? 6.0f : 0.0f;  // k < 11
    p[c] = maxc - cr * std::min(std::max(std::min(k, 4.0f - k), 0.0f), 1.0f);
  }
}

double row_gray_sum(const float* row, int width, int channels) {
  double sum = 0;
  const size_t c = static_cast<size_t>(channels);
  for (size_t x = 0; x < static_cast<size_t>(width); ++x) sum += channels == 1 ? row[x] : gray_of(row + x * c);
  return sum;
}

}  // namespace

void ColorStage::start(const ColorDraw& draw, int width, int height, std::vector<float>& image) {
  draw_ = draw;
  width_ = width;
  height_ = height;
  channels_ = 0;
  gray_sum_ = 0;
  image_ = &image;
  contrast_at_ = 4;
  if (draw.jitter && draw.on[static_cast<size_t>(ColorOp::kContrast)])
    contrast_at_ =
        static_cast<size_t>(std::find(draw.order.begin(), draw.order.end(), ColorOp::kContrast) - draw.order.begin());
}

void ColorStage::apply(float* row, int channels, size_t begin, size_t end, bool last) const {
  const size_t c = static_cast<size_t>(channels), w = static_cast<size_t>(width_);
  const size_t colors = std::min<size_t>(c, 3);
  const bool color = channels >= 3;
  for (size_t k = begin; k < end && draw_.jitter; ++k) {
    const ColorOp op = draw_.order[k];
    if (!draw_.on[static_cast<size_t>(op)]) continue;
    switch (op) {
      case ColorOp::kBrightness: {
        const float f = static_cast<float>(draw_.brightness);
        for (size_t x = 0; x < w; ++x)
          for (size_t ch = 0; ch < colors; ++ch) row[x * c + ch] = clamp255(row[x * c + ch] * f);
        break;
      }
      case ColorOp::kContrast: {
        const float f = static_cast<float>(draw_.contrast), add = (1.0f - f) * mean_;
        for (size_t x = 0; x < w; ++x)
          for (size_t ch = 0; ch < colors; ++ch) row[x * c + ch] = clamp255(f * row[x * c + ch] + add);
        break;
      }
      case ColorOp::kSaturation: {
        if (!color) break;
        const float f = static_cast<float>(draw_.saturation);
        for (size_t x = 0; x < w; ++x) {
          float* p = row + x * c;
          const float add = (1.0f - f) * gray_of(p);
          for (size_t ch = 0; ch < 3; ++ch) p[ch] = clamp255(f * p[ch] + add);
        }
        break;
      }
      case ColorOp::kHue: {
        if (!color) break;
        const float shift = static_cast<float>(draw_.hue);
        for (size_t x = 0; x < w; ++x) shift_hue(row + x * c, shift);
        break;
      }
    }
  }
  if (last && draw_.grayscale && color) {
    for (size_t x = 0; x < w; ++x) {
      float* p = row + x * c;
      p[0] = p[1] = p[2] = gray_of(p);
    }
  }
}

bool ColorStage::process(float* row, int channels, int y) {
  channels_ = channels;
  if (contrast_at_ == 4) {
    apply(row, channels, 0, 4, true);
    return true;
  }
  apply(row, channels, 0, contrast_at_, false);
  gray_sum_ += row_gray_sum(row, width_, channels);
  const size_t n = static_cast<size_t>(width_) * static_cast<size_t>(channels);
  if (image_->size() < n * static_cast<size_t>(height_)) image_->resize(n * static_cast<size_t>(height_));
  std::copy(row, row + n, image_->data() + n * static_cast<size_t>(y));
  return false;
}

void ColorStage::finish(const OutputFormat& format, void* out) {
  if (contrast_at_ == 4 || channels_ == 0) return;
  mean_ = static_cast<float>(gray_sum_ / (static_cast<double>(width_) * height_));
  const size_t n = static_cast<size_t>(width_) * static_cast<size_t>(channels_);
  for (int y = 0; y < height_; ++y) {
    float* row = image_->data() + n * static_cast<size_t>(y);
    apply(row, channels_, contrast_at_, 4, true);
    store_row(row, channels_, format, y, width_, height_, out);
  }
}

}  // namespace ferry::transforms::detail
