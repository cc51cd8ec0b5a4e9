#include "transforms/color_jitter.h"

#include <cmath>
#include <utility>

#include "base/error.h"

namespace ferry::transforms {
namespace {

std::string range_text(const JitterRange& r) { return "[" + std::to_string(r.lo) + ", " + std::to_string(r.hi) + "]"; }

void check_factor(const JitterRange& r, const std::string& field) {
  if (!(std::isfinite(r.lo) && std::isfinite(r.hi) && r.lo >= 0 && r.lo <= r.hi))
    throw InvalidOption(field + ": a factor range needs 0 <= min <= max (finite), got " + range_text(r));
}

bool is_on(const JitterRange& r, double identity) { return !(r.lo == identity && r.hi == identity); }

}  // namespace

ColorJitter ColorJitter::from_strengths(double brightness, double contrast, double saturation, double hue) {
  const std::pair<double, const char*> factors[] = {
      {brightness, "brightness"}, {contrast, "contrast"}, {saturation, "saturation"}};
  for (const auto& [v, name] : factors)
    if (!(v >= 0) || !std::isfinite(v))
      throw InvalidOption(std::string("ColorJitter: ") + name + " must be a finite number >= 0, got " +
                          std::to_string(v));
  if (!(hue >= 0 && hue <= 0.5)) throw InvalidOption("ColorJitter: hue must be in 0..0.5, got " + std::to_string(hue));
  ColorJitter j;
  j.brightness = {std::max(0.0, 1 - brightness), 1 + brightness};
  j.contrast = {std::max(0.0, 1 - contrast), 1 + contrast};
  j.saturation = {std::max(0.0, 1 - saturation), 1 + saturation};
  j.hue = {-hue, hue};
  if (hue == 0) j.hue = {0, 0};  // -0.0 would compare equal anyway; keep the text clean
  return j;
}

bool ColorJitter::enabled() const {
  return is_on(brightness, 1) || is_on(contrast, 1) || is_on(saturation, 1) || is_on(hue, 0);
}

void ColorJitter::validate(const std::string& prefix) const {
  check_factor(brightness, prefix + ".brightness");
  check_factor(contrast, prefix + ".contrast");
  check_factor(saturation, prefix + ".saturation");
  if (!(hue.lo >= -0.5 && hue.lo <= hue.hi && hue.hi <= 0.5))
    throw InvalidOption(prefix + ".hue: needs -0.5 <= min <= max <= 0.5, got " + range_text(hue));
}

ColorDraw draw_color(const ColorJitter& jitter, double grayscale_p, Rng& rng) {
  ColorDraw d;
  if (jitter.enabled()) {
    d.jitter = true;
    for (int i = 3; i >= 1; --i)
      std::swap(d.order[static_cast<size_t>(i)], d.order[rng.below(static_cast<uint64_t>(i) + 1)]);
    const JitterRange* ranges[] = {&jitter.brightness, &jitter.contrast, &jitter.saturation, &jitter.hue};
    double* values[] = {&d.brightness, &d.contrast, &d.saturation, &d.hue};
    for (size_t op = 0; op < 4; ++op) {
      d.on[op] = is_on(*ranges[op], op == 3 ? 0.0 : 1.0);
      if (d.on[op]) *values[op] = rng.uniform(ranges[op]->lo, ranges[op]->hi);
    }
  }
  if (grayscale_p > 0) d.grayscale = rng.uniform() < grayscale_p;
  return d;
}

}  // namespace ferry::transforms
