#include "transforms/jpeg_decoder.h"

// jpeglib.h needs size_t and FILE declared first.
#include <cstdio>
#include <cstdlib>
// clang-format off
#include <jpeglib.h>
#include <jerror.h>
// clang-format on

#include <algorithm>
#include <csetjmp>
#include <new>
#include <string>

#include "base/error.h"
#include "transforms/detail/pixel_limit.h"
#include "transforms/detail/pixels.h"

namespace ferry::transforms {
namespace {

struct ErrorManager {
  jpeg_error_mgr pub;  // first, so a j_common_ptr's err casts to ErrorManager*
  std::jmp_buf jump;
  int warnings;
  bool fail_on_data_loss;
  char message[JMSG_LENGTH_MAX];
};

ErrorManager* error_manager(j_common_ptr cinfo) { return reinterpret_cast<ErrorManager*>(cinfo->err); }

[[noreturn]] void on_error_exit(j_common_ptr cinfo) {
  (*cinfo->err->format_message)(cinfo, error_manager(cinfo)->message);
  std::longjmp(error_manager(cinfo)->jump, 1);
}

// Warnings after which libjpeg fills in gray or skips data: the pixels are wrong.
bool is_data_loss(int code) {
  return code == JWRN_JPEG_EOF || code == JWRN_HUFF_BAD_CODE || code == JWRN_HIT_MARKER || code == JWRN_MUST_RESYNC;
}

void on_emit_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace output, not a warning
  ErrorManager* err = error_manager(cinfo);
  if (err->fail_on_data_loss && is_data_loss(cinfo->err->msg_code)) on_error_exit(cinfo);
  ++err->warnings;
}

// The one place libjpeg longjmps to. A step and everything it calls must not
// own C++ objects with non-trivial destructors: longjmp would skip them. Steps
// are therefore plain functions over plain structs, and all allocation happens
// before or after them.
using Step = void (*)(j_decompress_ptr, void*);

[[gnu::noinline]] bool run_step(j_decompress_ptr cinfo, Step step, void* arg) {
  if (setjmp(error_manager(reinterpret_cast<j_common_ptr>(cinfo))->jump) != 0) return false;
  step(cinfo, arg);
  return true;
}

struct HeaderArgs {
  const uint8_t* data;
  size_t size;
  bool save_app1;
};

void header_step(j_decompress_ptr cinfo, void* arg) {
  auto* a = static_cast<HeaderArgs*>(arg);
  jpeg_mem_src(cinfo, a->data, static_cast<unsigned long>(a->size));
  jpeg_save_markers(cinfo, JPEG_APP0 + 1, a->save_app1 ? 0xFFFF : 0);
  jpeg_read_header(cinfo, TRUE);
}

struct StartArgs {
  int scale_num;
  J_COLOR_SPACE out_color_space;
  bool crop;
  JDIMENSION x, width;  // in: wanted columns; out: columns libjpeg decodes (iMCU-aligned)
  JDIMENSION skip_rows;
  int components;  // out: channels per decoded pixel
};

void start_step(j_decompress_ptr cinfo, void* arg) {
  auto* a = static_cast<StartArgs*>(arg);
  cinfo->scale_num = static_cast<unsigned>(a->scale_num);
  cinfo->scale_denom = 8;
  cinfo->out_color_space = a->out_color_space;
  cinfo->dct_method = JDCT_ISLOW;  // what Pillow uses; JDCT_IFAST loses accuracy
  cinfo->do_fancy_upsampling = TRUE;
  jpeg_start_decompress(cinfo);
  if (a->crop) {
    jpeg_crop_scanline(cinfo, &a->x, &a->width);
  } else {
    a->x = 0;
    a->width = cinfo->output_width;
  }
  if (a->skip_rows > 0) jpeg_skip_scanlines(cinfo, a->skip_rows);
  a->components = cinfo->output_components;
}

struct ReadArgs {
  JSAMPROW* rows;
  JDIMENSION count;
};

void read_step(j_decompress_ptr cinfo, void* arg) {
  auto* a = static_cast<ReadArgs*>(arg);
  JDIMENSION done = 0;
  while (done < a->count) {
    const JDIMENSION n = jpeg_read_scanlines(cinfo, a->rows + done, a->count - done);
    if (n == 0) ERREXIT(cinfo, JERR_BAD_STATE);  // cannot happen with a memory source; never loop forever
    done += n;
  }
}

constexpr int kEdgeMargin = 4;

// Pillow's MULDIV255: a*b/255 rounded, exact for 8-bit inputs.
inline int muldiv255(int a, int b) {
  const int t = a * b + 128;
  return (t + (t >> 8)) >> 8;
}

// Reads the EXIF Orientation tag (0x0112) from a saved APP1 marker; 1 if absent or malformed.
int exif_orientation(j_decompress_ptr cinfo) {
  for (jpeg_saved_marker_ptr m = cinfo->marker_list; m != nullptr; m = m->next) {
    if (m->marker != JPEG_APP0 + 1 || m->data_length < 14) continue;
    const uint8_t* d = m->data;
    if (d[0] != 'E' || d[1] != 'x' || d[2] != 'i' || d[3] != 'f' || d[4] != 0 || d[5] != 0) continue;
    const uint8_t* t = d + 6;
    const size_t n = m->data_length - 6;
    const bool le = t[0] == 'I' && t[1] == 'I';
    if (!le && !(t[0] == 'M' && t[1] == 'M')) return 1;
    auto u16 = [&](size_t at) -> unsigned { return le ? t[at] | t[at + 1] << 8 : t[at] << 8 | t[at + 1]; };
    auto u32 = [&](size_t at) -> size_t {
      return le ? u16(at) | size_t{u16(at + 2)} << 16 : size_t{u16(at)} << 16 | u16(at + 2);
    };
    const size_t ifd = u32(4);
    if (ifd + 2 > n) return 1;
    const unsigned entries = u16(ifd);
    for (unsigned i = 0; i < entries; ++i) {
      const size_t e = ifd + 2 + 12 * size_t{i};
      if (e + 12 > n) return 1;
      if (u16(e) == 0x0112 && u16(e + 2) == 3) {
        const unsigned v = u16(e + 8);
        return v >= 1 && v <= 8 ? static_cast<int>(v) : 1;
      }
    }
    return 1;
  }
  return 1;
}

}  // namespace

struct JpegDecoder::State {
  jpeg_decompress_struct cinfo{};
  ErrorManager err{};
  JpegDecodeOptions options;
  JpegHeader header;
  bool header_ok = false;
  bool adobe = false;
  std::vector<uint8_t> pixels;  // grow-only scratch: decoded rows
  std::vector<uint8_t> cmyk;    // grow-only scratch: CMYK rows before conversion
  std::vector<JSAMPROW> rows;

  [[noreturn]] void fail() {
    jpeg_abort_decompress(&cinfo);
    header_ok = false;
    throw BadSample(std::string("JPEG decode failed: ") + err.message);
  }
};

JpegDecoder::JpegDecoder() : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.cinfo.err = jpeg_std_error(&s.err.pub);
  s.err.pub.error_exit = on_error_exit;
  s.err.pub.emit_message = on_emit_message;
  if (!run_step(
          &s.cinfo, [](j_decompress_ptr c, void*) { jpeg_create_decompress(c); }, nullptr))
    throw std::bad_alloc();
}

JpegDecoder::~JpegDecoder() { jpeg_destroy_decompress(&state_->cinfo); }

int JpegDecoder::warnings() const { return state_->err.warnings; }

int JpegDecoder::scale_for(double crop_w, double crop_h, int out_w, int out_h, ScaleSet set) {
  for (int n = 1; n < 8; ++n) {
    if (set == ScaleSet::kSimd && n != 1 && n != 2 && n != 4) continue;
    if (crop_w * n / 8 >= out_w && crop_h * n / 8 >= out_h) return n;
  }
  return 8;
}

JpegHeader JpegDecoder::read_header(const uint8_t* data, size_t size, const JpegDecodeOptions& options) {
  State& s = *state_;
  jpeg_abort_decompress(&s.cinfo);
  s.header_ok = false;
  s.options = options;
  s.err.warnings = 0;
  s.err.fail_on_data_loss = options.fail_on_data_loss;
  if (size == 0 || data == nullptr) throw BadSample("JPEG decode failed: empty input (0 bytes)");
  HeaderArgs args{data, size, options.exif_orientation};
  if (!run_step(&s.cinfo, header_step, &args)) s.fail();

  const jpeg_decompress_struct& c = s.cinfo;
  JpegHeader h;
  h.width = static_cast<int>(c.image_width);
  h.height = static_cast<int>(c.image_height);
  h.components = c.num_components;
  h.progressive = c.progressive_mode != 0;
  try {
    detail::check_pixel_limit("JPEG", h.width, h.height, options.max_pixels);
  } catch (const BadSample&) {
    jpeg_abort_decompress(&s.cinfo);
    throw;
  }
  const J_COLOR_SPACE cs = c.jpeg_color_space;
  const bool ok = (h.components == 1 && cs == JCS_GRAYSCALE) ||
                  (h.components == 3 && (cs == JCS_YCbCr || cs == JCS_RGB)) ||
                  (h.components == 4 && (cs == JCS_CMYK || cs == JCS_YCCK));
  if (!ok) {
    jpeg_abort_decompress(&s.cinfo);
    throw BadSample("JPEG decode failed: unsupported colour space " + std::to_string(static_cast<int>(cs)) + " with " +
                    std::to_string(h.components) + " components");
  }
  s.adobe = c.saw_Adobe_marker != 0;
  if (options.exif_orientation) h.orientation = exif_orientation(&s.cinfo);
  s.header = h;
  s.header_ok = true;
  return h;
}

DecodedImage JpegDecoder::decode(const DecodeRegion& region) {
  State& s = *state_;
  if (!s.header_ok) throw BadSample("JPEG decode failed: decode() without a successful read_header()");
  s.header_ok = false;  // one decode per header
  const int n = std::clamp(region.scale_num, 1, 8);
  const int sw = scaled_size(s.header.width, n), sh = scaled_size(s.header.height, n);
  int x = std::clamp(region.x, 0, sw - 1), y = std::clamp(region.y, 0, sh - 1);
  const int right = x + std::clamp(region.width < 0 ? sw - x : region.width, 1, sw - x);
  const int bottom = y + std::clamp(region.height < 0 ? sh - y : region.height, 1, sh - y);
  // Fancy (smooth) chroma upsampling treats the edges of a cropped or skipped
  // region like image edges, which changes the pixels next to them: decode a
  // margin around the asked region so that it matches a full decode.
  x = std::max(0, x - kEdgeMargin);
  y = std::max(0, y - kEdgeMargin);
  const int w = std::min(sw, right + kEdgeMargin) - x;
  const int h = bottom - y;

  const bool cmyk = s.header.components == 4;
  const bool gray_out = s.options.grayscale || s.header.components == 1;
  StartArgs start{n,
                  cmyk       ? JCS_CMYK
                  : gray_out ? JCS_GRAYSCALE
                             : JCS_EXT_RGB,
                  x > 0 || w < sw,
                  static_cast<JDIMENSION>(x),
                  static_cast<JDIMENSION>(w),
                  static_cast<JDIMENSION>(y),
                  0};
  if (!run_step(&s.cinfo, start_step, &start)) s.fail();

  const int out_channels = gray_out ? 1 : 3;
  const size_t width = start.width;
  const size_t decoded_stride = width * static_cast<size_t>(start.components);
  const size_t stride = width * static_cast<size_t>(out_channels);
  // 16 spare bytes let vector code read a little past the last pixel.
  const size_t need = stride * static_cast<size_t>(h) + 16;
  if (s.pixels.size() < need) s.pixels.resize(need);
  uint8_t* target = s.pixels.data();
  if (cmyk) {
    if (s.cmyk.size() < decoded_stride * static_cast<size_t>(h)) s.cmyk.resize(decoded_stride * static_cast<size_t>(h));
    target = s.cmyk.data();
  }
  if (s.rows.size() < static_cast<size_t>(h)) s.rows.resize(static_cast<size_t>(h));
  for (int r = 0; r < h; ++r) s.rows[static_cast<size_t>(r)] = target + decoded_stride * static_cast<size_t>(r);
  ReadArgs read{s.rows.data(), static_cast<JDIMENSION>(h)};
  if (!run_step(&s.cinfo, read_step, &read)) s.fail();
  jpeg_abort_decompress(&s.cinfo);  // the rows below are not needed: stop here

  if (cmyk) {
    // Adobe files store CMYK inverted; Pillow's CMYK->RGB is r = (255-k) - (255-k)*c/255.
    const size_t count = width * static_cast<size_t>(h);
    for (size_t i = 0; i < count; ++i) {
      const uint8_t* p = &s.cmyk[4 * i];
      const int k_inv = s.adobe ? p[3] : 255 - p[3];
      int rgb[3];
      for (int ch = 0; ch < 3; ++ch) {
        const int cc = s.adobe ? 255 - p[ch] : p[ch];
        rgb[ch] = k_inv - muldiv255(cc, k_inv);
      }
      if (out_channels == 1) {
        s.pixels[i] = detail::luma601(rgb[0], rgb[1], rgb[2]);
      } else {
        for (int ch = 0; ch < 3; ++ch) s.pixels[3 * i + static_cast<size_t>(ch)] = static_cast<uint8_t>(rgb[ch]);
      }
    }
  }

  DecodedImage img;
  img.pixels = s.pixels.data();
  img.x = static_cast<int>(start.x);
  img.y = y;
  img.width = static_cast<int>(width);
  img.height = h;
  img.channels = out_channels;
  img.stride = stride;
  img.scaled_width = sw;
  img.scaled_height = sh;
  return img;
}

}  // namespace ferry::transforms
