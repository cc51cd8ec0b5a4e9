#include "tools/gen_sample/sample_data.h"

#include <jpeglib.h>

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "base/rng.h"

namespace ferry::sample {
namespace {

uint8_t clamp8(float v) { return static_cast<uint8_t>(std::clamp(v, 0.0f, 255.0f) + 0.5f); }

struct Colour {
  float c[3];
};

Colour random_colour(Rng& rng) {
  return {{static_cast<float>(rng.uniform(0, 255)), static_cast<float>(rng.uniform(0, 255)),
           static_cast<float>(rng.uniform(0, 255))}};
}

// libjpeg reports errors by calling error_exit, which must not return. Encoding
// valid options cannot fail, so the only job here is to leave without exit():
// longjmp back into encode(), whose frame holds no C++ objects.
struct EncodeError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  unsigned char* buffer;  // here, not on encode()'s stack, so longjmp cannot clobber it
};

void encode_error_exit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<EncodeError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// Returns a malloc'ed buffer (owned by the caller) or null with `err->message` set.
unsigned char* encode(const JpegOptions& o, const uint8_t* pixels, int components, unsigned long* size,
                      EncodeError* err, const uint8_t* app1, unsigned app1_size) {
  jpeg_compress_struct cinfo;
  err->buffer = nullptr;
  cinfo.err = jpeg_std_error(&err->mgr);
  err->mgr.error_exit = encode_error_exit;
  if (setjmp(err->jump)) {
    jpeg_destroy_compress(&cinfo);
    std::free(err->buffer);
    return nullptr;
  }
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, &err->buffer, size);
  cinfo.image_width = static_cast<JDIMENSION>(o.width);
  cinfo.image_height = static_cast<JDIMENSION>(o.height);
  cinfo.input_components = components;
  cinfo.in_color_space = components == 1 ? JCS_GRAYSCALE : components == 3 ? JCS_RGB : JCS_CMYK;
  jpeg_set_defaults(&cinfo);
  if (components == 4) jpeg_set_colorspace(&cinfo, o.color_model == ColorModel::kYcck ? JCS_YCCK : JCS_CMYK);
  jpeg_set_quality(&cinfo, o.quality, TRUE);
  if (components > 1) {
    static constexpr int kH[] = {1, 2, 2, 1};
    static constexpr int kV[] = {1, 1, 2, 2};
    const int s = static_cast<int>(o.subsampling);
    cinfo.comp_info[0].h_samp_factor = kH[s];
    cinfo.comp_info[0].v_samp_factor = kV[s];
    for (int c = 1; c < cinfo.num_components; ++c) {
      cinfo.comp_info[c].h_samp_factor = 1;
      cinfo.comp_info[c].v_samp_factor = 1;
    }
    // CMYK/YCCK: K keeps full resolution like luma.
    if (components == 4) {
      cinfo.comp_info[3].h_samp_factor = kH[s];
      cinfo.comp_info[3].v_samp_factor = kV[s];
    }
  }
  if (o.progressive) jpeg_simple_progression(&cinfo);
  if (o.restart_markers) cinfo.restart_in_rows = 1;
  jpeg_start_compress(&cinfo, TRUE);
  if (app1_size > 0) jpeg_write_marker(&cinfo, JPEG_APP0 + 1, app1, app1_size);
  const size_t stride = static_cast<size_t>(o.width) * static_cast<size_t>(components);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(pixels + cinfo.next_scanline * stride);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  return err->buffer;
}

// A minimal little-endian EXIF block holding only the Orientation tag.
std::vector<uint8_t> exif_orientation_block(int orientation) {
  return {'E',
          'x',
          'i',
          'f',
          0,
          0,  // APP1 identifier
          'I',
          'I',
          42,
          0,
          8,
          0,
          0,
          0,  // TIFF header, IFD0 at 8
          1,
          0,  // one entry
          0x12,
          0x01,
          3,
          0,
          1,
          0,
          0,
          0,  // Orientation, SHORT, count 1
          static_cast<uint8_t>(orientation),
          0,
          0,
          0,
          0,
          0,
          0,
          0};  // value; no next IFD
}

}  // namespace

std::vector<uint8_t> render_rgb(int width, int height, uint64_t seed) {
  Rng rng(mix_seed(seed, 0x5a3d1e));
  const size_t w = static_cast<size_t>(width), h = static_cast<size_t>(height);
  std::vector<float> img(w * h * 3);

  // Background: a bilinear gradient between four corner colours plus a soft wave.
  Colour corner[4];
  for (auto& c : corner) c = random_colour(rng);
  const float fx = static_cast<float>(rng.uniform(0.01, 0.08)), fy = static_cast<float>(rng.uniform(0.01, 0.08));
  const float wave = static_cast<float>(rng.uniform(5, 25));
  for (size_t y = 0; y < h; ++y) {
    const float v = h > 1 ? static_cast<float>(y) / static_cast<float>(h - 1) : 0.f;
    for (size_t x = 0; x < w; ++x) {
      const float u = w > 1 ? static_cast<float>(x) / static_cast<float>(w - 1) : 0.f;
      const float s = wave * std::sin(fx * static_cast<float>(x) + fy * static_cast<float>(y));
      for (int c = 0; c < 3; ++c) {
        const float top = corner[0].c[c] * (1 - u) + corner[1].c[c] * u;
        const float bottom = corner[2].c[c] * (1 - u) + corner[3].c[c] * u;
        img[(y * w + x) * 3 + c] = top * (1 - v) + bottom * v + s;
      }
    }
  }

  // Shapes: discs, rectangles and striped rectangles of random colour.
  const int shapes = 6 + static_cast<int>(rng.below(10));
  for (int i = 0; i < shapes; ++i) {
    const Colour col = random_colour(rng);
    const int kind = static_cast<int>(rng.below(3));
    const double cx = rng.uniform(0, width), cy = rng.uniform(0, height);
    const double rx = rng.uniform(0.03, 0.3) * width, ry = rng.uniform(0.03, 0.3) * height;
    const double period = rng.uniform(3, 12);
    const int x0 = std::max(0, static_cast<int>(cx - rx)), x1 = std::min(width, static_cast<int>(cx + rx) + 1);
    const int y0 = std::max(0, static_cast<int>(cy - ry)), y1 = std::min(height, static_cast<int>(cy + ry) + 1);
    for (int y = y0; y < y1; ++y) {
      for (int x = x0; x < x1; ++x) {
        const double dx = (x - cx) / rx, dy = (y - cy) / ry;
        float alpha = 1.0f;
        if (kind == 0) {
          if (dx * dx + dy * dy > 1.0) continue;
        } else if (kind == 2) {
          alpha = std::fmod(x + y, period) < period / 2 ? 1.0f : 0.35f;
        }
        float* p = &img[(static_cast<size_t>(y) * w + static_cast<size_t>(x)) * 3];
        for (int c = 0; c < 3; ++c) p[c] = p[c] * (1 - alpha) + col.c[c] * alpha;
      }
    }
  }

  // Sensor-like noise.
  const float amplitude = static_cast<float>(rng.uniform(6, 18));
  std::vector<uint8_t> out(w * h * 3);
  for (size_t i = 0; i < out.size(); ++i) {
    const float n = (static_cast<float>(rng.next_u64() >> 40) * 0x1.0p-24f - 0.5f) * 2 * amplitude;
    out[i] = clamp8(img[i] + n);
  }
  return out;
}

std::vector<uint8_t> make_jpeg(const JpegOptions& o) {
  if (o.width < 1 || o.width > 65500 || o.height < 1 || o.height > 65500)
    throw std::invalid_argument("make_jpeg: width and height must be in 1..65500");
  if (o.quality < 1 || o.quality > 100) throw std::invalid_argument("make_jpeg: quality must be in 1..100");
  if (o.exif_orientation < 0 || o.exif_orientation > 8)
    throw std::invalid_argument("make_jpeg: exif_orientation must be in 0..8");

  std::vector<uint8_t> rgb = render_rgb(o.width, o.height, o.seed);
  int components = 3;
  std::vector<uint8_t> pixels;
  if (o.subsampling == Subsampling::kGray) {
    components = 1;
    pixels.resize(rgb.size() / 3);
    for (size_t i = 0; i < pixels.size(); ++i)
      pixels[i] = static_cast<uint8_t>((299 * rgb[3 * i] + 587 * rgb[3 * i + 1] + 114 * rgb[3 * i + 2] + 500) / 1000);
  } else if (o.color_model != ColorModel::kYCbCr) {
    // Adobe CMYK is stored inverted: the stored value is 255 - ink, so a reader
    // gets R = C' * K' / 255 (what Pillow and libjpeg-turbo's tools do).
    components = 4;
    pixels.resize(rgb.size() / 3 * 4);
    for (size_t i = 0; i < rgb.size() / 3; ++i) {
      const int r = rgb[3 * i], g = rgb[3 * i + 1], b = rgb[3 * i + 2];
      const int kk = std::max({r, g, b});  // 255 - K
      uint8_t* p = &pixels[4 * i];
      for (int c = 0; c < 3; ++c) p[c] = kk == 0 ? 255 : static_cast<uint8_t>((rgb[3 * i + c] * 255 + kk / 2) / kk);
      p[3] = static_cast<uint8_t>(kk);
    }
  } else {
    pixels = std::move(rgb);
  }

  std::vector<uint8_t> app1;
  if (o.exif_orientation > 0) app1 = exif_orientation_block(o.exif_orientation);
  EncodeError err;
  unsigned long size = 0;
  unsigned char* buffer =
      encode(o, pixels.data(), components, &size, &err, app1.data(), static_cast<unsigned>(app1.size()));
  if (buffer == nullptr) throw std::runtime_error(std::string("make_jpeg: libjpeg: ") + err.message);
  std::vector<uint8_t> bytes(buffer, buffer + size);
  std::free(buffer);
  return bytes;
}

JpegOptions image_folder_options(int index, uint64_t seed) {
  Rng rng(mix_seed(seed, static_cast<uint64_t>(index)));
  JpegOptions o;
  o.width = 300 + static_cast<int>(rng.below(201));
  o.height = 300 + static_cast<int>(rng.below(201));
  o.quality = 90;
  o.subsampling = index % 40 == 7 ? Subsampling::kGray : Subsampling::k420;
  o.progressive = index % 25 == 3;
  o.seed = rng.next_u64();
  return o;
}

void write_image_folder(const std::string& dir, int images, int classes, uint64_t seed, const Progress& progress) {
  if (images < 0 || classes < 1) throw std::invalid_argument("write_image_folder: need images >= 0 and classes >= 1");
  namespace fs = std::filesystem;
  const fs::path root(dir);
  fs::remove(root / ".complete");
  char name[64];
  for (int c = 0; c < classes && c < std::max(images, 1); ++c) {
    std::snprintf(name, sizeof name, "class_%03d", c);
    fs::create_directories(root / name);
  }
  for (int i = 0; i < images; ++i) {
    const std::vector<uint8_t> bytes = make_jpeg(image_folder_options(i, seed));
    std::snprintf(name, sizeof name, "class_%03d/img_%05d.jpg", i % classes, i);
    const fs::path path = root / name;
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!f) throw std::runtime_error("write_image_folder: cannot write " + path.string());
    if (progress) progress(i + 1, images);
  }
  std::ofstream done(root / ".complete", std::ios::trunc);
  if (!done) throw std::runtime_error("write_image_folder: cannot write " + (root / ".complete").string());
}

}  // namespace ferry::sample
