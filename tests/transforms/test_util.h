#pragma once
// Helpers shared by the transform tests: temp dirs, files, a TurboJPEG
// reference decode and pixel statistics.
#include <turbojpeg.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace ferry::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ferry-tx-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline void write_file(const std::filesystem::path& p, const std::vector<uint8_t>& bytes) {
  std::ofstream(p, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline std::vector<uint8_t> read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

/// Full-size decode with the TurboJPEG API (accurate DCT, fancy upsampling).
inline std::vector<uint8_t> turbo_decode(const std::vector<uint8_t>& jpeg, int* width, int* height, int channels) {
  tjhandle h = tjInitDecompress();
  int w = 0, ht = 0, sub = 0, cs = 0;
  std::vector<uint8_t> out;
  if (tjDecompressHeader3(h, jpeg.data(), static_cast<unsigned long>(jpeg.size()), &w, &ht, &sub, &cs) == 0) {
    out.resize(static_cast<size_t>(w) * static_cast<size_t>(ht) * static_cast<size_t>(channels));
    if (tjDecompress2(h, jpeg.data(), static_cast<unsigned long>(jpeg.size()), out.data(), w, 0, ht,
                      channels == 1 ? TJPF_GRAY : TJPF_RGB, TJFLAG_ACCURATEDCT) != 0)
      out.clear();
  }
  tjDestroy(h);
  *width = w;
  *height = ht;
  return out;
}

struct Diff {
  double mean = 0;
  int max = 0;
};

inline Diff diff(const uint8_t* a, const uint8_t* b, size_t n) {
  Diff d;
  double sum = 0;
  for (size_t i = 0; i < n; ++i) {
    const int e = std::abs(int{a[i]} - int{b[i]});
    sum += e;
    d.max = e > d.max ? e : d.max;
  }
  d.mean = n ? sum / static_cast<double>(n) : 0;
  return d;
}

}  // namespace ferry::testing
