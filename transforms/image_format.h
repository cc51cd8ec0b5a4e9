#pragma once
/// Which decoder an encoded image needs, from its first bytes (its magic
/// number), never from a file name: a ".jpg" that holds a PNG decodes as PNG.
///
///   switch (detect_format(bytes, size)) { case ImageFormat::kPng: ... }
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ferry::transforms {

enum class ImageFormat : uint8_t {
  kUnknown,
  kJpeg,  ///< FF D8 FF
  kPng,   ///< 89 'P' 'N' 'G' 0D 0A 1A 0A
  kWebp,  ///< "RIFF" <size> "WEBP"
};

/// The format whose magic bytes `data` starts with; kUnknown for anything else
/// (including inputs too short to tell).
ImageFormat detect_format(const uint8_t* data, size_t size);

/// "JPEG", "PNG", "WebP" or "unknown".
std::string_view format_name(ImageFormat format);

/// The BadSample message for an input no decoder accepts: what it starts with,
/// e.g. "not a JPEG, PNG or WebP file: starts with 47 49 46 38 (\"GIF8\")".
std::string unknown_format_message(const uint8_t* data, size_t size);

}  // namespace ferry::transforms
