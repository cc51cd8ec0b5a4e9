#include "tools/pack/pack.h"

#include <turbojpeg.h>

#include <algorithm>
#include <chrono>
#include <memory>

#include "base/error.h"
#include "loader/datasets/file_list.h"
#include "loader/datasets/image_folder.h"
#include "loader/datasets/packed_file.h"
#include "loader/datasets/packed_writer.h"
#include "loader/datasets/tar_shards.h"

namespace ferry::pack {
namespace {

struct TjHandle {
  explicit TjHandle(tjhandle h) : h(h) {}
  ~TjHandle() {
    if (h != nullptr) tjDestroy(h);
  }
  TjHandle(const TjHandle&) = delete;
  TjHandle& operator=(const TjHandle&) = delete;
  tjhandle h;
};

/// Area-averaging resize of an RGB image (a box filter with fractional
/// coverage), separable: rows first, then columns.
std::vector<uint8_t> shrink_rgb(const std::vector<uint8_t>& src, int w, int h, int ow, int oh) {
  std::vector<float> tmp(static_cast<size_t>(ow) * h * 3, 0.f);
  const double sx = static_cast<double>(w) / ow;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < ow; ++x) {
      const double x0 = x * sx;
      const double x1 = x0 + sx;
      float acc[3] = {0, 0, 0};
      for (int k = static_cast<int>(x0); k < std::min(w, static_cast<int>(x1) + 1); ++k) {
        const double cover = std::min<double>(k + 1, x1) - std::max<double>(k, x0);
        if (cover <= 0) continue;
        for (int c = 0; c < 3; ++c) acc[c] += static_cast<float>(cover) * src[(static_cast<size_t>(y) * w + k) * 3 + c];
      }
      for (int c = 0; c < 3; ++c) tmp[(static_cast<size_t>(y) * ow + x) * 3 + c] = acc[c] / static_cast<float>(sx);
    }
  }
  std::vector<uint8_t> out(static_cast<size_t>(ow) * oh * 3);
  const double sy = static_cast<double>(h) / oh;
  for (int y = 0; y < oh; ++y) {
    const double y0 = y * sy;
    const double y1 = y0 + sy;
    for (int x = 0; x < ow; ++x) {
      float acc[3] = {0, 0, 0};
      for (int k = static_cast<int>(y0); k < std::min(h, static_cast<int>(y1) + 1); ++k) {
        const double cover = std::min<double>(k + 1, y1) - std::max<double>(k, y0);
        if (cover <= 0) continue;
        for (int c = 0; c < 3; ++c)
          acc[c] += static_cast<float>(cover) * tmp[(static_cast<size_t>(k) * ow + x) * 3 + c];
      }
      for (int c = 0; c < 3; ++c) {
        const float v = acc[c] / static_cast<float>(sy) + 0.5f;
        out[(static_cast<size_t>(y) * ow + x) * 3 + c] = static_cast<uint8_t>(std::clamp(v, 0.f, 255.f));
      }
    }
  }
  return out;
}

}  // namespace

void validate(const PackOptions& o) {
  if (o.max_side < 0) throw InvalidOption("--max-side must be >= 1 (or 0 to keep sizes)");
  if (o.quality < 1 || o.quality > 100) throw InvalidOption("--quality must be in 1..100");
}

std::vector<uint8_t> reencode_jpeg(std::span<const uint8_t> jpeg, int max_side, int quality, bool always) {
  TjHandle dec(tjInitDecompress());
  if (dec.h == nullptr) throw BadSample("tjInitDecompress failed");
  int w = 0;
  int h = 0;
  int subsamp = 0;
  int colorspace = 0;
  if (tjDecompressHeader3(dec.h, jpeg.data(), jpeg.size(), &w, &h, &subsamp, &colorspace) != 0) {
    throw BadSample(std::string("not a JPEG: ") + tjGetErrorStr2(dec.h));
  }
  if (w <= 0 || h <= 0 || static_cast<int64_t>(w) * h > (int64_t{1} << 28)) {
    throw BadSample("JPEG of " + std::to_string(w) + "x" + std::to_string(h) + " pixels is out of range");
  }
  const bool too_big = max_side > 0 && std::max(w, h) > max_side;
  if (!too_big && !always) return {jpeg.begin(), jpeg.end()};
  int ow = w;
  int oh = h;
  if (too_big) {
    const double s = static_cast<double>(max_side) / std::max(w, h);
    ow = std::max(1, static_cast<int>(w * s + 0.5));
    oh = std::max(1, static_cast<int>(h * s + 0.5));
  }
  // Decode at the smallest DCT scale that still covers the output size.
  int nf = 0;
  tjscalingfactor* sf = tjGetScalingFactors(&nf);
  int dw = w;
  int dh = h;
  for (int k = 0; k < nf; ++k) {
    const int sw = TJSCALED(w, sf[k]);
    const int sh = TJSCALED(h, sf[k]);
    if (sw >= ow && sh >= oh && sw * sh < dw * dh) {
      dw = sw;
      dh = sh;
    }
  }
  std::vector<uint8_t> rgb(static_cast<size_t>(dw) * dh * 3);
  if (tjDecompress2(dec.h, jpeg.data(), jpeg.size(), rgb.data(), dw, 0, dh, TJPF_RGB, TJFLAG_ACCURATEDCT) != 0 &&
      tjGetErrorCode(dec.h) == TJERR_FATAL) {
    throw BadSample(std::string("JPEG decode failed: ") + tjGetErrorStr2(dec.h));
  }
  if (dw != ow || dh != oh) rgb = shrink_rgb(rgb, dw, dh, ow, oh);
  TjHandle enc(tjInitCompress());
  if (enc.h == nullptr) throw BadSample("tjInitCompress failed");
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  if (tjCompress2(enc.h, rgb.data(), ow, 0, oh, TJPF_RGB, &buf, &size, TJSAMP_420, quality, TJFLAG_ACCURATEDCT) != 0) {
    if (buf != nullptr) tjFree(buf);
    throw BadSample(std::string("JPEG encode failed: ") + tjGetErrorStr2(enc.h));
  }
  std::vector<uint8_t> out(buf, buf + size);
  tjFree(buf);
  return out;
}

PackStats pack(const SampleSource& source, const std::string& out_path, const PackOptions& options,
               const Progress& progress) {
  validate(options);
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::string> classes;
  if (const auto* f = dynamic_cast<const ImageFolder*>(&source)) classes = f->classes();
  if (const auto* p = dynamic_cast<const PackedFile*>(&source)) classes = p->classes();
  const uint64_t n = static_cast<uint64_t>(source.size());
  PackedWriter writer(out_path, n, classes);
  PackStats stats;
  ReadBuffer scratch;
  const bool reencode = options.max_side > 0 || options.reencode_all;
  for (uint64_t i = 0; i < n; ++i) {
    const auto idx = static_cast<int64_t>(i);
    std::span<const uint8_t> bytes = source.read(idx, scratch);
    stats.input_bytes += bytes.size();
    if (reencode) {
      std::vector<uint8_t> re;
      try {
        re = reencode_jpeg(bytes, options.max_side, options.quality, options.reencode_all);
      } catch (const BadSample& e) {
        throw BadSample(source.path(idx) + ": " + e.what());
      }
      stats.reencoded += re.size() != bytes.size() || !std::equal(re.begin(), re.end(), bytes.begin());
      writer.add(re, source.label(idx));
    } else {
      writer.add(bytes, source.label(idx));
    }
    if (progress) progress(i + 1, n, stats.input_bytes);
  }
  writer.finish();
  stats.records = n;
  stats.output_bytes = writer.bytes_written();
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return stats;
}

}  // namespace ferry::pack
