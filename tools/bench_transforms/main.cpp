// ferry-bench-transforms: single-thread images/s of decode and the named
// pipelines, beside the raw limit (plain full-size tjDecompress2), PNG and WebP
// decode beside Pillow's, and train with ColorJitter beside torchvision's,
// measured in alternating rounds in one run so machine drift hits every mode
// alike.
#include <time.h>
#include <turbojpeg.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/rng.h"
#include "tools/bench_transforms/python_helper.h"
#include "tools/cli/cli.h"
#include "tools/gen_sample/sample_png.h"
#include "tools/gen_sample/sample_webp.h"
#include "transforms/image_format.h"
#include "transforms/image_pipeline.h"
#include "transforms/jpeg_decoder.h"
#include "transforms/png_decoder.h"
#include "transforms/webp_decoder.h"

namespace {

namespace fs = std::filesystem;
using ferry::transforms::ImagePipeline;
using ferry::transforms::PipelineSpec;
using Files = std::vector<std::vector<uint8_t>>;

struct Corpus {
  Files jpeg, png, webp;
  std::vector<std::string> jpeg_paths;  // for the Python side
};

Corpus load(const fs::path& dir) {
  std::vector<fs::path> paths;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::string ext = e.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".webp") paths.push_back(e.path());
  }
  std::sort(paths.begin(), paths.end());
  Corpus c;
  for (const auto& p : paths) {
    std::ifstream f(p, std::ios::binary);
    std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
    switch (ferry::transforms::detect_format(bytes.data(), bytes.size())) {
      case ferry::transforms::ImageFormat::kJpeg:
        c.jpeg.push_back(std::move(bytes));
        c.jpeg_paths.push_back(p.string());
        break;
      case ferry::transforms::ImageFormat::kPng:
        c.png.push_back(std::move(bytes));
        break;
      case ferry::transforms::ImageFormat::kWebp:
        c.webp.push_back(std::move(bytes));
        break;
      case ferry::transforms::ImageFormat::kUnknown:
        break;
    }
  }
  return c;
}

// Re-encodes the first `n` JPEGs as 8-bit RGB PNG and lossy WebP.
void transcode(Corpus& c, size_t n) {
  ferry::transforms::JpegDecoder dec;
  for (size_t i = 0; i < std::min(n, c.jpeg.size()); ++i) {
    try {
      dec.read_header(c.jpeg[i].data(), c.jpeg[i].size(), {});
      const ferry::transforms::DecodedImage img = dec.decode({});
      std::vector<uint8_t> rgb(static_cast<size_t>(img.width) * static_cast<size_t>(img.height) * 3);
      for (size_t p = 0; p < rgb.size() / 3; ++p)
        for (size_t ch = 0; ch < 3; ++ch)
          rgb[3 * p + ch] = img.pixels[(p / static_cast<size_t>(img.width)) * img.stride +
                                       (p % static_cast<size_t>(img.width)) * static_cast<size_t>(img.channels) +
                                       (img.channels == 3 ? ch : 0)];
      ferry::sample::PngImage png;
      png.width = img.width;
      png.height = img.height;
      png.samples.assign(rgb.begin(), rgb.end());
      c.png.push_back(ferry::sample::encode_png(png));
      c.webp.push_back(ferry::sample::encode_webp(rgb.data(), img.width, img.height, 3, false, 90));
    } catch (const std::exception&) {  // an undecodable JPEG is simply not transcoded
    }
  }
}

// Writes `files` as dir/<name>/<i> and their paths to dir/<name>.txt (for the Python side).
void write_list(const fs::path& dir, const std::string& name, const Files& files) {
  fs::create_directories(dir / name);
  std::ofstream list(dir / (name + ".txt"));
  for (size_t i = 0; i < files.size(); ++i) {
    const fs::path p = dir / name / std::to_string(i);
    std::ofstream(p, std::ios::binary)
        .write(reinterpret_cast<const char*>(files[i].data()), static_cast<std::streamsize>(files[i].size()));
    list << p.string() << "\n";
  }
}

struct Mode {
  std::string name;
  const Files* files = nullptr;
  std::function<void(const std::vector<uint8_t>&, uint64_t)> run;  // empty: a Python mode
  std::string python;                                              // the Python mode's name
  size_t baseline = 0;                                             // index of the mode it is compared with
  std::vector<double> rates;                                       // images per CPU-second of the thread
  std::vector<double> wall_rates;                                  // images per wall-clock second
};

double thread_cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// One pass of a C++ mode over its files.
void run_pass(Mode& m) {
  const double c0 = thread_cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < m.files->size(); ++i) {
    try {
      m.run((*m.files)[i], i);
    } catch (const ferry::BadSample&) {
    }
  }
  const double cpu = thread_cpu_seconds() - c0;
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  m.rates.push_back(static_cast<double>(m.files->size()) / cpu);
  m.wall_rates.push_back(static_cast<double>(m.files->size()) / wall);
}

// The ferry modes that the Python modes are compared with (indices into modes; 0: absent).
struct Counterparts {
  size_t png, webp, jitter;
};

// Starts the Python helper over the corpus' files listed in `list_dir` and
// adds a mode for each pair it can run (Pillow's PNG and WebP decode,
// torchvision's train + ColorJitter), each the baseline of ferry's side.
std::unique_ptr<ferry::bench_transforms::PythonHelper> add_python_modes(const std::string& python,
                                                                        const fs::path& list_dir, const Corpus& corpus,
                                                                        std::vector<Mode>& modes, Counterparts ours) {
  std::ofstream jl(list_dir / "jpeg.txt");
  for (const auto& p : corpus.jpeg_paths) jl << p << "\n";
  jl.close();
  write_list(list_dir, "png", corpus.png);
  write_list(list_dir, "webp", corpus.webp);
  auto helper =
      std::make_unique<ferry::bench_transforms::PythonHelper>(python, FERRY_BENCH_TRANSFORMS_SCRIPT, list_dir.string());
  for (const std::string& m : helper->modes()) {
    Mode py{"", nullptr, {}, m};
    if (m == "pillow-png") py = {"PNG decode (Pillow, full size)", &corpus.png, {}, m};
    if (m == "pillow-webp") py = {"WebP decode (Pillow, full size)", &corpus.webp, {}, m};
    if (m == "torchvision-train-jitter") py = {"train + ColorJitter (torchvision, PIL)", &corpus.jpeg, {}, m};
    if (py.files == nullptr) continue;
    // ferry's side of each pair is measured against the other library's.
    const size_t mine = m == "pillow-png" ? ours.png : m == "pillow-webp" ? ours.webp : ours.jitter;
    modes[mine].baseline = modes.size();
    modes.push_back(py);
  }
  if (!helper->why().empty()) {
    std::printf("(no Python modes: %s)\n", helper->why().c_str());
  } else if (std::find(helper->modes().begin(), helper->modes().end(), "torchvision-train-jitter") ==
             helper->modes().end()) {
    std::printf("(no torchvision mode: %s cannot import torchvision; run scripts/setup --with-torch)\n",
                python.c_str());
  }
  return helper;
}

void print_table(const std::vector<Mode>& modes, int rounds) {
  std::printf(
      "\n| mode | files | images per CPU-second (median of %d rounds) | min | max | vs | ratio (median of per-round "
      "ratios) | images per wall-second |\n"
      "|---|---:|---:|---:|---:|---|---:|---:|\n",
      rounds);
  for (const auto& m : modes) {
    // A round's modes run back to back, so a per-round ratio cancels most of the machine's drift between rounds.
    const Mode& base = modes[m.baseline];
    std::vector<double> ratios;
    for (size_t r = 0; r < m.rates.size(); ++r) ratios.push_back(base.rates[r] > 0 ? m.rates[r] / base.rates[r] : 0);
    std::printf("| %s | %zu | %.0f | %.0f | %.0f | %s | %.2fx | %.0f |\n", m.name.c_str(), m.files->size(),
                median(m.rates), *std::min_element(m.rates.begin(), m.rates.end()),
                *std::max_element(m.rates.begin(), m.rates.end()), base.name.c_str(), median(ratios),
                median(m.wall_rates));
  }
}

// The medians as JSON; false when the file cannot be written.
bool write_json(const std::string& path, const std::vector<Mode>& modes, int rounds, size_t jpeg_files) {
  nlohmann::ordered_json doc, per_cpu_s, per_wall_s;
  for (const auto& m : modes) {
    per_cpu_s[m.name] = median(m.rates);
    per_wall_s[m.name] = median(m.wall_rates);
  }
  doc["files"] = jpeg_files;
  doc["rounds"] = rounds;
  doc["images_per_s"] = per_cpu_s;
  doc["images_per_wall_s"] = per_wall_s;
  std::ofstream j(path);
  j << doc.dump(2) << "\n";
  return bool(j);
}

std::string default_python() {
  if (access(".venv/bin/python", X_OK) == 0) return ".venv/bin/python";
  return "/usr/bin/python3";
}

}  // namespace

int main(int argc, char** argv) {
  std::string data, json, python = default_python();
  double seconds = 30;
  size_t transcode_count = 200;
  CLI::App app{
      "Loads every .jpg/.jpeg/.png/.webp under DIR into memory (sorted by their content: JPEG, PNG, WebP) and "
      "reports single-thread images per CPU-second of the thread (median of alternating rounds; also per "
      "wall-second) for: raw full-size tjDecompress2, decode-only (ferry's JPEG decoder, full size), the pipelines "
      "train, val, train_u8, val_u8, train + ColorJitter(0.4, 0.4, 0.4, 0.1), and PNG and WebP full-size decode "
      "(ferry). The PNG and WebP inputs are those files plus the first N JPEGs re-encoded in memory as PNG (zlib "
      "level 6) and lossy WebP (quality 90). From PY, in the same rounds: Pillow's PNG and WebP decode, and "
      "torchvision's train + ColorJitter (needs torchvision: scripts/setup --with-torch).",
      "ferry-bench-transforms"};
  app.add_option("--data", data, "the folder of images")->type_name("DIR")->required()->check(CLI::ExistingDirectory);
  app.add_option("--seconds", seconds, "total measuring time (at least 3 rounds run)")
      ->type_name("S")
      ->check(ferry::cli::number_above(0, 1e6))
      ->capture_default_str();
  app.add_option("--json", json, "also write the medians as JSON")->type_name("FILE");
  app.add_option("--transcode", transcode_count, "JPEGs re-encoded as PNG and WebP for those modes (0: none)")
      ->type_name("N")
      ->check(ferry::cli::unsigned_integer())
      ->capture_default_str();
  app.add_option("--python", python, "the Python with Pillow (and torchvision) for the reference modes")
      ->type_name("PY")
      ->capture_default_str();
  if (const auto status = ferry::cli::parse(app, argc, argv)) return *status;

  Corpus corpus = load(data);
  if (corpus.jpeg.empty()) {
    std::fprintf(stderr, "ferry-bench-transforms: no JPEG files under '%s'\n", data.c_str());
    return ferry::cli::kUsageExit;
  }
  transcode(corpus, transcode_count);
  size_t bytes = 0;
  for (const auto& f : corpus.jpeg) bytes += f.size();
  std::printf("ferry-bench-transforms: %zu JPEGs (%.1f MB), %zu PNGs, %zu WebPs, from %s; one thread\n",
              corpus.jpeg.size(), bytes / 1e6, corpus.png.size(), corpus.webp.size(), data.c_str());

  // Output and scratch buffers are allocated and touched once, outside the timing.
  std::vector<uint8_t> raw_out(64u << 20, 1);
  tjhandle tj = tjInitDecompress();
  ferry::transforms::JpegDecoder decoder;
  ferry::transforms::PngDecoder png;
  ferry::transforms::WebpDecoder webp;
  const ImagePipeline train(PipelineSpec::named("train")), val(PipelineSpec::named("val"));
  const ImagePipeline train_u8(PipelineSpec::named("train_u8")), val_u8(PipelineSpec::named("val_u8"));
  PipelineSpec jitter_spec = PipelineSpec::named("train");
  jitter_spec.color_jitter = ferry::transforms::ColorJitter::from_strengths(0.4, 0.4, 0.4, 0.1);
  const ImagePipeline train_jitter(jitter_spec);
  std::vector<uint8_t> out(train.output_bytes(), 1);
  int skipped = 0;

  std::vector<Mode> modes;
  modes.push_back({"raw tjDecompress2 (full size)", &corpus.jpeg, [&](const std::vector<uint8_t>& f, uint64_t) {
                     int w = 0, h = 0, sub = 0, cs = 0;
                     if (tjDecompressHeader3(tj, f.data(), f.size(), &w, &h, &sub, &cs) != 0 ||
                         static_cast<size_t>(w) * static_cast<size_t>(h) * 3 > raw_out.size() ||
                         tjDecompress2(tj, f.data(), f.size(), raw_out.data(), w, 0, h, TJPF_RGB, 0) != 0)
                       ++skipped;
                   }});
  modes.push_back({"decode-only (ferry, full size)", &corpus.jpeg, [&](const std::vector<uint8_t>& f, uint64_t) {
                     decoder.read_header(f.data(), f.size(), {});
                     decoder.decode({});
                   }});
  auto pipeline_mode = [&](const char* name, const ImagePipeline& p) {
    modes.push_back({name, &corpus.jpeg, [&p, &out](const std::vector<uint8_t>& f, uint64_t index) {
                       ferry::Rng rng = ferry::Rng::for_sample(0, 0, index);
                       p.run(f.data(), f.size(), rng, out.data());
                     }});
  };
  pipeline_mode("train (float32 CHW)", train);
  pipeline_mode("val (float32 CHW)", val);
  pipeline_mode("train_u8 (uint8 HWC)", train_u8);
  pipeline_mode("val_u8 (uint8 HWC)", val_u8);
  pipeline_mode("train + ColorJitter (float32 CHW)", train_jitter);
  const size_t jitter_mode = modes.size() - 1;
  size_t png_mode = 0, webp_mode = 0;
  if (!corpus.png.empty()) {
    png_mode = modes.size();
    modes.push_back({"PNG decode (ferry, full size)", &corpus.png, [&](const std::vector<uint8_t>& f, uint64_t) {
                       png.read_header(f.data(), f.size(), 1 << 30);
                       png.decode(ferry::transforms::PixelFormat::kRgb);
                     }});
  }
  if (!corpus.webp.empty()) {
    webp_mode = modes.size();
    modes.push_back({"WebP decode (ferry, full size)", &corpus.webp, [&](const std::vector<uint8_t>& f, uint64_t) {
                       webp.read_header(f.data(), f.size(), 1 << 30);
                       webp.decode(ferry::transforms::PixelFormat::kRgb);
                     }});
  }

  // The Python side reads the same files (the JPEGs where they are, the re-encoded ones from a temp folder).
  std::string tmpl = (fs::temp_directory_path() / "ferry-bench-tx-XXXXXX").string();
  const fs::path list_dir = mkdtemp(tmpl.data()) ? fs::path(tmpl) : fs::path();
  std::unique_ptr<ferry::bench_transforms::PythonHelper> helper;
  if (!list_dir.empty()) helper = add_python_modes(python, list_dir, corpus, modes, {png_mode, webp_mode, jitter_mode});

  // Warm-up: one pass of each C++ mode (page faults, thread-local scratch, caches).
  for (auto& m : modes)
    if (m.run) {
      run_pass(m);
      m.rates.clear();
      m.wall_rates.clear();
    }

  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  int rounds = 0;
  while (rounds < 3 || std::chrono::duration<double>(clock::now() - start).count() < seconds) {
    for (auto& m : modes) {
      if (m.run) {
        run_pass(m);
        continue;
      }
      const auto t = helper->run(m.python);
      m.rates.push_back(t ? static_cast<double>(t->images) / t->cpu_seconds : 0);
      m.wall_rates.push_back(t ? static_cast<double>(t->images) / t->wall_seconds : 0);
    }
    ++rounds;
    std::printf("  round %d done (%.0f s)\n", rounds, std::chrono::duration<double>(clock::now() - start).count());
    std::fflush(stdout);
  }
  tjDestroy(tj);
  helper.reset();
  if (!list_dir.empty()) fs::remove_all(list_dir);

  print_table(modes, rounds);
  if (skipped > 0) std::printf("(%d undecodable files skipped by the raw mode)\n", skipped);
  if (list_dir.empty()) std::printf("(no temp folder: the Python modes were not run)\n");
  if (!json.empty() && !write_json(json, modes, rounds, corpus.jpeg.size())) {
    std::fprintf(stderr, "ferry-bench-transforms: cannot write %s\n", json.c_str());
    return 1;
  }
  return 0;
}
