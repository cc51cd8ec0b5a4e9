#pragma once
/// The resampling filters of a resize, by the names torchvision and Pillow use.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::transforms {

enum class Interpolation : uint8_t {
  kBilinear,  ///< Pillow's antialiased triangle filter (torchvision's default)
  kBicubic,   ///< Pillow's antialiased bicubic (a = -0.5), clamped to 0..255
  kNearest,   ///< the source pixel under each output pixel's centre, exactly as Pillow's NEAREST
};

/// "bilinear", "bicubic" or "nearest".
std::string_view interpolation_name(Interpolation i);

/// Every name, in the enum's order ("bilinear", "bicubic", "nearest").
std::vector<std::string> interpolation_names();

/// The interpolation named `name` (as interpolation_name() spells it); nullopt otherwise.
std::optional<Interpolation> parse_interpolation(std::string_view name);

}  // namespace ferry::transforms
