#pragma once
/// Element types of batch fields and their sizes.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ferry {

/// New types go at the end: the values travel in spawn payloads.
enum class DType : uint8_t {
  kUInt8,
  kInt32,
  kInt64,
  kFloat16,
  kBFloat16,
  kFloat32,
  kBool,
  kInt8,
  kInt16,
  kUInt16,
  kFloat64
};

/// Every DType, e.g. to look one up by dtype_name().
inline constexpr DType kAllDTypes[] = {DType::kUInt8,    DType::kInt32,   DType::kInt64,  DType::kFloat16,
                                       DType::kBFloat16, DType::kFloat32, DType::kBool,   DType::kInt8,
                                       DType::kInt16,    DType::kUInt16,  DType::kFloat64};

constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::kUInt8:
    case DType::kBool:
    case DType::kInt8:
      return 1;
    case DType::kFloat16:
    case DType::kBFloat16:
    case DType::kInt16:
    case DType::kUInt16:
      return 2;
    case DType::kInt32:
    case DType::kFloat32:
      return 4;
    case DType::kInt64:
    case DType::kFloat64:
      return 8;
  }
  return 0;
}

constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::kUInt8:
      return "uint8";
    case DType::kInt32:
      return "int32";
    case DType::kInt64:
      return "int64";
    case DType::kFloat16:
      return "float16";
    case DType::kBFloat16:
      return "bfloat16";
    case DType::kFloat32:
      return "float32";
    case DType::kBool:
      return "bool";
    case DType::kInt8:
      return "int8";
    case DType::kInt16:
      return "int16";
    case DType::kUInt16:
      return "uint16";
    case DType::kFloat64:
      return "float64";
  }
  return "?";
}

}  // namespace ferry
