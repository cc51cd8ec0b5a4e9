#pragma once
/// Colour augmentation with torchvision's semantics: ColorJitter(brightness,
/// contrast, saturation, hue), its four operations in a random order per
/// sample, and RandomGrayscale(p).
///
///   PipelineSpec spec = PipelineSpec::named("train");
///   spec.color_jitter = ColorJitter::from_strengths(0.4, 0.4, 0.4, 0.1);
///   spec.grayscale_p = 0.1;
///
/// The operations, on pixel values v in 0..255 (torchvision's tensor ops on
/// 0..1 values, scaled), each clamped to 0..255 before the next:
///   brightness f:  v * f
///   contrast f:    f * v + (1 - f) * mean, mean = the image's mean gray (at that point in the order)
///   saturation f:  f * v + (1 - f) * gray(pixel)
///   hue h:         the pixel's HSV hue shifted by h turns
///   grayscale:     every colour channel = gray(pixel)
/// with gray = 0.2989 R + 0.587 G + 0.114 B. One-channel images get brightness
/// and contrast only (torchvision leaves saturation and hue of gray images
/// alone). An alpha channel is never changed.
#include <array>
#include <cstdint>
#include <string>

#include "base/rng.h"

namespace ferry::transforms {

/// A closed range [lo, hi] from which one parameter is drawn uniformly.
struct JitterRange {
  double lo = 1, hi = 1;
  bool operator==(const JitterRange&) const = default;
};

/// torchvision.transforms.ColorJitter after its argument checks: the factor
/// ranges it draws from. An operation whose range is its identity alone
/// ({1, 1} for the factors, {0, 0} for hue) is off, as torchvision sets it to
/// None: it is neither drawn nor applied.
struct ColorJitter {
  JitterRange brightness{1, 1};  ///< factor, 0 <= lo <= hi
  JitterRange contrast{1, 1};    ///< factor, 0 <= lo <= hi
  JitterRange saturation{1, 1};  ///< factor, 0 <= lo <= hi
  JitterRange hue{0, 0};         ///< shift in turns, -0.5 <= lo <= hi <= 0.5

  /// ColorJitter(b, c, s, h) with single numbers, as torchvision reads them:
  /// [max(0, 1 - x), 1 + x] for the factors and [-h, h] for hue; 0 turns an
  /// operation off. Throws InvalidOption for a negative value or hue > 0.5.
  static ColorJitter from_strengths(double brightness, double contrast, double saturation, double hue);

  /// True when any of the four operations is on.
  bool enabled() const;
  bool operator==(const ColorJitter&) const = default;

  /// Throws ferry::InvalidOption naming `<prefix>.<field>` and its valid range.
  void validate(const std::string& prefix) const;
};

enum class ColorOp : uint8_t { kBrightness, kContrast, kSaturation, kHue };

/// One sample's colour augmentation: what draw_color() picked.
struct ColorDraw {
  bool jitter = false;  ///< ColorJitter has an operation on
  /// The four operations in the order they apply (torchvision's randperm(4));
  /// an operation that is off is skipped where it stands.
  std::array<ColorOp, 4> order{ColorOp::kBrightness, ColorOp::kContrast, ColorOp::kSaturation, ColorOp::kHue};
  std::array<bool, 4> on{};  ///< on[op]: whether the operation applies (indexed by ColorOp)
  double brightness = 1, contrast = 1, saturation = 1, hue = 0;
  bool grayscale = false;  ///< RandomGrayscale chose this sample

  /// True when nothing changes the colours.
  bool identity() const { return !jitter && !grayscale; }
};

/// Draws one sample's colour augmentation from `rng`, in torchvision's order,
/// and only what is on: when `jitter` has an operation on, the permutation
/// (Fisher-Yates, 3 draws: below(4), below(3), below(2)), then one uniform
/// draw per operation that is on, in the order brightness, contrast,
/// saturation, hue; then, when grayscale_p > 0, one uniform draw for
/// RandomGrayscale (grayscale when it is < grayscale_p).
ColorDraw draw_color(const ColorJitter& jitter, double grayscale_p, Rng& rng);

}  // namespace ferry::transforms
