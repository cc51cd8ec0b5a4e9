#include "tools/gen_sample/sample_webp.h"

#include <webp/encode.h>
#include <webp/mux.h>

#include <stdexcept>
#include <string>

#include "tools/gen_sample/sample_data.h"

namespace ferry::sample {
namespace {

std::vector<uint8_t> with_alpha(const std::vector<uint8_t>& rgb, int width, int height) {
  std::vector<uint8_t> rgba(static_cast<size_t>(width) * static_cast<size_t>(height) * 4);
  for (size_t i = 0; i < rgba.size() / 4; ++i) {
    for (size_t c = 0; c < 3; ++c) rgba[4 * i + c] = rgb[3 * i + c];
    const size_t x = i % static_cast<size_t>(width);
    rgba[4 * i + 3] = static_cast<uint8_t>(x * 255 / static_cast<size_t>(width > 1 ? width - 1 : 1));
  }
  return rgba;
}

// Owns a WebPPicture for the animation encoder.
struct Picture {
  WebPPicture pic;
  Picture() {
    if (!WebPPictureInit(&pic)) throw std::runtime_error("make_webp: WebPPictureInit failed (libwebp ABI mismatch)");
  }
  ~Picture() { WebPPictureFree(&pic); }
  Picture(const Picture&) = delete;
  Picture& operator=(const Picture&) = delete;
};

struct AnimEncoder {
  WebPAnimEncoder* enc;
  explicit AnimEncoder(WebPAnimEncoder* e) : enc(e) {
    if (enc == nullptr) throw std::runtime_error("make_webp: WebPAnimEncoderNew failed");
  }
  ~AnimEncoder() { WebPAnimEncoderDelete(enc); }
  AnimEncoder(const AnimEncoder&) = delete;
  AnimEncoder& operator=(const AnimEncoder&) = delete;
};

std::vector<uint8_t> make_animation(const WebpOptions& o) {
  WebPAnimEncoderOptions options;
  if (!WebPAnimEncoderOptionsInit(&options)) throw std::runtime_error("make_webp: libwebpmux ABI mismatch");
  options.kmax = 1;  // every frame a key frame: each decodes on its own
  AnimEncoder anim(WebPAnimEncoderNew(o.width, o.height, &options));
  WebPConfig config;
  if (!WebPConfigInit(&config)) throw std::runtime_error("make_webp: libwebp ABI mismatch");
  config.quality = static_cast<float>(o.quality);
  int timestamp = 0;
  for (int f = 0; f < o.frames; ++f) {
    Picture p;
    p.pic.width = o.width;
    p.pic.height = o.height;
    p.pic.use_argb = 1;
    std::vector<uint8_t> rgb = render_rgb(o.width, o.height, o.seed + static_cast<uint64_t>(f) * 7919);
    const bool ok = o.alpha ? WebPPictureImportRGBA(&p.pic, with_alpha(rgb, o.width, o.height).data(), o.width * 4)
                            : WebPPictureImportRGB(&p.pic, rgb.data(), o.width * 3);
    if (!ok || !WebPAnimEncoderAdd(anim.enc, &p.pic, timestamp, &config))
      throw std::runtime_error(std::string("make_webp: adding a frame failed: ") + WebPAnimEncoderGetError(anim.enc));
    timestamp += 100;
  }
  WebPData data;
  WebPDataInit(&data);
  if (!WebPAnimEncoderAdd(anim.enc, nullptr, timestamp, nullptr) || !WebPAnimEncoderAssemble(anim.enc, &data))
    throw std::runtime_error(std::string("make_webp: assembling failed: ") + WebPAnimEncoderGetError(anim.enc));
  std::vector<uint8_t> out(data.bytes, data.bytes + data.size);
  WebPDataClear(&data);
  return out;
}

}  // namespace

std::vector<uint8_t> encode_webp(const uint8_t* pixels, int width, int height, int channels, bool lossless,
                                 int quality) {
  uint8_t* buffer = nullptr;
  const int stride = width * channels;
  const float q = static_cast<float>(quality);
  size_t size = 0;
  if (channels == 4) {
    size = lossless ? WebPEncodeLosslessRGBA(pixels, width, height, stride, &buffer)
                    : WebPEncodeRGBA(pixels, width, height, stride, q, &buffer);
  } else if (channels == 3) {
    size = lossless ? WebPEncodeLosslessRGB(pixels, width, height, stride, &buffer)
                    : WebPEncodeRGB(pixels, width, height, stride, q, &buffer);
  } else {
    throw std::invalid_argument("encode_webp: channels must be 3 or 4");
  }
  if (size == 0) {
    WebPFree(buffer);
    throw std::runtime_error("encode_webp: libwebp could not encode a " + std::to_string(width) + "x" +
                             std::to_string(height) + " picture");
  }
  std::vector<uint8_t> out(buffer, buffer + size);
  WebPFree(buffer);
  return out;
}

std::vector<uint8_t> make_webp(const WebpOptions& o) {
  if (o.width < 1 || o.width > 16383 || o.height < 1 || o.height > 16383)
    throw std::invalid_argument("make_webp: width and height must be in 1..16383");
  if (o.quality < 0 || o.quality > 100) throw std::invalid_argument("make_webp: quality must be in 0..100");
  if (o.kind == WebpKind::kAnimated) {
    if (o.frames < 2 || o.frames > 16) throw std::invalid_argument("make_webp: frames must be in 2..16");
    return make_animation(o);
  }
  const std::vector<uint8_t> rgb = render_rgb(o.width, o.height, o.seed);
  const bool lossless = o.kind == WebpKind::kLossless;
  if (o.alpha) return encode_webp(with_alpha(rgb, o.width, o.height).data(), o.width, o.height, 4, lossless, o.quality);
  return encode_webp(rgb.data(), o.width, o.height, 3, lossless, o.quality);
}

}  // namespace ferry::sample
