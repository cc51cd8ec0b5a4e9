#include "transforms/interpolation.h"

#include <utility>

namespace ferry::transforms {
namespace {

constexpr std::pair<Interpolation, std::string_view> kNames[] = {
    {Interpolation::kBilinear, "bilinear"}, {Interpolation::kBicubic, "bicubic"}, {Interpolation::kNearest, "nearest"}};

}  // namespace

std::string_view interpolation_name(Interpolation i) {
  for (const auto& [value, name] : kNames)
    if (value == i) return name;
  return "unknown";
}

std::vector<std::string> interpolation_names() {
  std::vector<std::string> names;
  for (const auto& [value, name] : kNames) names.emplace_back(name);
  return names;
}

std::optional<Interpolation> parse_interpolation(std::string_view name) {
  for (const auto& [value, n] : kNames)
    if (n == name) return value;
  return std::nullopt;
}

}  // namespace ferry::transforms
