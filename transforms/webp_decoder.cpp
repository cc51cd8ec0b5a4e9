#include "transforms/webp_decoder.h"

#include <webp/decode.h>
#include <webp/demux.h>

#include <string>
#include <vector>

#include "base/error.h"
#include "transforms/detail/pixel_limit.h"
#include "transforms/detail/pixels.h"

namespace ferry::transforms {
namespace {

const char* status_text(VP8StatusCode status) {
  switch (status) {
    case VP8_STATUS_OK:
      return "ok";
    case VP8_STATUS_OUT_OF_MEMORY:
      return "out of memory";
    case VP8_STATUS_INVALID_PARAM:
      return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR:
      return "corrupt bitstream";
    case VP8_STATUS_UNSUPPORTED_FEATURE:
      return "unsupported feature";
    case VP8_STATUS_SUSPENDED:
      return "decoding suspended";
    case VP8_STATUS_USER_ABORT:
      return "aborted";
    case VP8_STATUS_NOT_ENOUGH_DATA:
      return "not enough data (truncated file?)";
  }
  return "unknown error";
}

// The one place a libwebp status turns into ferry's error.
void check(VP8StatusCode status, const char* step) {
  if (status != VP8_STATUS_OK) throw BadSample(std::string("WebP decode failed: ") + step + ": " + status_text(status));
}

struct AnimDecoderDeleter {
  void operator()(WebPAnimDecoder* dec) const { WebPAnimDecoderDelete(dec); }
};

// Drops alpha or makes luma, in place or into `dst`, from interleaved RGBA.
void from_rgba(const uint8_t* rgba, size_t pixels, int channels, uint8_t* dst) {
  for (size_t i = 0; i < pixels; ++i) {
    const uint8_t* p = rgba + 4 * i;
    if (channels == 1) {
      dst[i] = detail::luma601(p[0], p[1], p[2]);
    } else {
      for (int c = 0; c < channels; ++c) dst[static_cast<size_t>(channels) * i + static_cast<size_t>(c)] = p[c];
    }
  }
}

}  // namespace

struct WebpDecoder::State {
  const uint8_t* data = nullptr;
  size_t size = 0;
  WebpHeader header;
  bool header_ok = false;
  std::vector<uint8_t> pixels;  // grow-only: the decoded image
  std::vector<uint8_t> rgb;     // grow-only: RGB before luma (kGray)

  // Decodes a still image as `mode` into `dst`; returns the bytes per row.
  size_t decode_still(WEBP_CSP_MODE mode, int channels, std::vector<uint8_t>& dst) {
    const size_t stride = static_cast<size_t>(header.width) * static_cast<size_t>(channels);
    const size_t bytes = stride * static_cast<size_t>(header.height);
    if (dst.size() < bytes + 16) dst.resize(bytes + 16);  // 16 spare bytes for vector reads
    WebPDecoderConfig config;
    if (!WebPInitDecoderConfig(&config)) throw BadSample("WebP decode failed: libwebp version mismatch");
    config.output.colorspace = mode;
    config.output.is_external_memory = 1;
    config.output.u.RGBA.rgba = dst.data();
    config.output.u.RGBA.stride = static_cast<int>(stride);
    config.output.u.RGBA.size = bytes;
    const VP8StatusCode status = WebPDecode(data, size, &config);
    WebPFreeDecBuffer(&config.output);
    check(status, "image data");
    return stride;
  }
};

WebpDecoder::WebpDecoder() : state_(std::make_unique<State>()) {}
WebpDecoder::~WebpDecoder() = default;

WebpHeader WebpDecoder::read_header(const uint8_t* data, size_t size, int64_t max_pixels) {
  State& s = *state_;
  s.header_ok = false;
  if (data == nullptr || size == 0) throw BadSample("WebP decode failed: empty input (0 bytes)");
  WebPBitstreamFeatures f;
  check(WebPGetFeatures(data, size, &f), "header");
  WebpHeader h;
  h.width = f.width;
  h.height = f.height;
  h.alpha = f.has_alpha != 0;
  h.animated = f.has_animation != 0;
  h.lossless = f.format == 2;
  detail::check_pixel_limit("WebP", h.width, h.height, max_pixels);
  s.data = data;
  s.size = size;
  s.header = h;
  s.header_ok = true;
  return h;
}

DecodedImage WebpDecoder::decode(PixelFormat format) {
  State& s = *state_;
  if (!s.header_ok) throw BadSample("WebP decode failed: decode() without a successful read_header()");
  s.header_ok = false;  // one decode per header
  const WebpHeader& h = s.header;
  const int channels = format == PixelFormat::kRgba ? 4 : format == PixelFormat::kRgb ? 3 : 1;
  const size_t pixels = static_cast<size_t>(h.width) * static_cast<size_t>(h.height);
  DecodedImage img;
  img.width = img.scaled_width = h.width;
  img.height = img.scaled_height = h.height;
  img.channels = channels;
  img.stride = static_cast<size_t>(h.width) * static_cast<size_t>(channels);

  if (h.animated) {
    WebPAnimDecoderOptions options;
    if (!WebPAnimDecoderOptionsInit(&options)) throw BadSample("WebP decode failed: libwebpdemux version mismatch");
    options.color_mode = MODE_RGBA;
    options.use_threads = 0;
    const WebPData whole{s.data, s.size};
    std::unique_ptr<WebPAnimDecoder, AnimDecoderDeleter> anim(WebPAnimDecoderNew(&whole, &options));
    uint8_t* canvas = nullptr;
    int timestamp = 0;
    if (!anim || !WebPAnimDecoderGetNext(anim.get(), &canvas, &timestamp))
      throw BadSample("WebP decode failed: the animation's first frame does not decode (corrupt or truncated)");
    if (s.pixels.size() < img.stride * static_cast<size_t>(h.height) + 16)
      s.pixels.resize(img.stride * static_cast<size_t>(h.height) + 16);
    from_rgba(canvas, pixels, channels, s.pixels.data());
  } else if (format == PixelFormat::kGray) {
    s.decode_still(MODE_RGB, 3, s.rgb);
    if (s.pixels.size() < pixels + 16) s.pixels.resize(pixels + 16);
    for (size_t i = 0; i < pixels; ++i) s.pixels[i] = detail::luma601(s.rgb[3 * i], s.rgb[3 * i + 1], s.rgb[3 * i + 2]);
  } else {
    s.decode_still(channels == 4 ? MODE_RGBA : MODE_RGB, channels, s.pixels);
  }
  img.pixels = s.pixels.data();
  return img;
}

}  // namespace ferry::transforms
