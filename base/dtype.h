#pragma once
/// Element types of batch fields and their sizes.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ferry {

enum class DType : uint8_t { kUInt8, kInt32, kInt64, kFloat16, kBFloat16, kFloat32 };

constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::kUInt8:
      return 1;
    case DType::kFloat16:
    case DType::kBFloat16:
      return 2;
    case DType::kInt32:
    case DType::kFloat32:
      return 4;
    case DType::kInt64:
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
  }
  return "?";
}

}  // namespace ferry
