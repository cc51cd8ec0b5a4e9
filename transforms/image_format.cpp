#include "transforms/image_format.h"

#include <cstdio>
#include <cstring>

namespace ferry::transforms {

ImageFormat detect_format(const uint8_t* data, size_t size) {
  static constexpr uint8_t kPngMagic[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  if (data == nullptr) return ImageFormat::kUnknown;
  if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) return ImageFormat::kJpeg;
  if (size >= 8 && std::memcmp(data, kPngMagic, 8) == 0) return ImageFormat::kPng;
  if (size >= 12 && std::memcmp(data, "RIFF", 4) == 0 && std::memcmp(data + 8, "WEBP", 4) == 0)
    return ImageFormat::kWebp;
  return ImageFormat::kUnknown;
}

std::string_view format_name(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg:
      return "JPEG";
    case ImageFormat::kPng:
      return "PNG";
    case ImageFormat::kWebp:
      return "WebP";
    case ImageFormat::kUnknown:
      break;
  }
  return "unknown";
}

std::string unknown_format_message(const uint8_t* data, size_t size) {
  if (data == nullptr || size == 0) return "empty input (0 bytes): not a JPEG, PNG or WebP file";
  std::string hex, text;
  for (size_t i = 0; i < size && i < 8; ++i) {
    char b[4];
    std::snprintf(b, sizeof b, "%s%02x", i ? " " : "", data[i]);
    hex += b;
    text += data[i] >= 0x20 && data[i] < 0x7F && data[i] != '"' ? static_cast<char>(data[i]) : '.';
  }
  return "not a JPEG, PNG or WebP file: starts with " + hex + " (\"" + text + "\")" +
         (size < 12 ? " and is only " + std::to_string(size) + " bytes long" : "");
}

}  // namespace ferry::transforms
