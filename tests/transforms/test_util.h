#pragma once
// Helpers shared by the transform tests: temp dirs, files, a TurboJPEG
// reference decode, Pillow references (pillow_reference.py) and pixel statistics.
#include <turbojpeg.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
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

/// True when /usr/bin/python3 imports Pillow and numpy (scripts/setup installs both).
inline bool have_pillow() {
  static const bool ok = std::system("/usr/bin/python3 -c 'import PIL, numpy' >/dev/null 2>&1") == 0;
  return ok;
}

#define SKIP_WITHOUT_PILLOW()           \
  if (!::ferry::testing::have_pillow()) \
  GTEST_SKIP() << "/usr/bin/python3 cannot import PIL and numpy (install python3-pil python3-numpy: scripts/setup)"

#ifdef FERRY_TRANSFORMS_TEST_DIR
/// Runs pillow_reference.py on `jobs` (one per line, see the script) in `dir`
/// and returns its output bytes; an empty result when the script failed.
inline std::vector<uint8_t> pillow(const TempDir& dir, const std::string& jobs) {
  const auto in = dir.path() / "jobs.txt", out = dir.path() / "out.bin";
  std::ofstream(in) << jobs;
  const std::string cmd = std::string("/usr/bin/python3 ") + FERRY_TRANSFORMS_TEST_DIR + "/pillow_reference.py < " +
                          in.string() + " > " + out.string();
  if (std::system(cmd.c_str()) != 0) return {};
  return read_file(out);
}
#endif

/// A double as text that reads back exactly.
inline std::string exact_text(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.17g", v);
  return b;
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
