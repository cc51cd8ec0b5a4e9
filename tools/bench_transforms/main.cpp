// ferry-bench-transforms: single-thread images/s of decode and the named
// pipelines, beside the raw limit (plain full-size tjDecompress2), measured in
// alternating rounds in one run so machine drift hits every mode alike.
#include <time.h>
#include <turbojpeg.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/rng.h"
#include "tools/cli/cli.h"
#include "transforms/image_pipeline.h"
#include "transforms/jpeg_decoder.h"

namespace {

namespace fs = std::filesystem;
using ferry::transforms::ImagePipeline;
using ferry::transforms::PipelineSpec;

std::vector<std::vector<uint8_t>> load(const fs::path& dir) {
  std::vector<fs::path> paths;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::string ext = e.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (ext == ".jpg" || ext == ".jpeg") paths.push_back(e.path());
  }
  std::sort(paths.begin(), paths.end());
  std::vector<std::vector<uint8_t>> files;
  for (const auto& p : paths) {
    std::ifstream f(p, std::ios::binary);
    files.emplace_back(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  return files;
}

struct Mode {
  std::string name;
  std::function<void(const std::vector<uint8_t>&, uint64_t)> run;
  std::vector<double> rates;       // images per CPU-second of this thread
  std::vector<double> wall_rates;  // images per wall-clock second
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

}  // namespace

int main(int argc, char** argv) {
  std::string data, json;
  double seconds = 30;
  CLI::App app{
      "Loads every .jpg/.jpeg under DIR into memory and reports single-thread images per CPU-second of the thread "
      "(median of alternating rounds; also per wall-second) for: raw full-size tjDecompress2, decode-only (ferry's "
      "decoder, full size), and the pipelines train, val, train_u8, val_u8.",
      "ferry-bench-transforms"};
  app.add_option("--data", data, "the folder of JPEGs")->type_name("DIR")->required()->check(CLI::ExistingDirectory);
  app.add_option("--seconds", seconds, "total measuring time (at least 3 rounds run)")
      ->type_name("S")
      ->check(ferry::cli::number_above(0, 1e6))
      ->capture_default_str();
  app.add_option("--json", json, "also write the medians as JSON")->type_name("FILE");
  if (const auto status = ferry::cli::parse(app, argc, argv)) return *status;

  const auto files = load(data);
  if (files.empty()) {
    std::fprintf(stderr, "ferry-bench-transforms: no .jpg/.jpeg files under '%s'\n", data.c_str());
    return ferry::cli::kUsageExit;
  }
  size_t bytes = 0;
  for (const auto& f : files) bytes += f.size();
  std::printf("ferry-bench-transforms: %zu JPEGs, %.1f MB, from %s; one thread\n", files.size(), bytes / 1e6,
              data.c_str());

  // Output and scratch buffers are allocated and touched once, outside the timing.
  std::vector<uint8_t> raw_out(64u << 20, 1);
  tjhandle tj = tjInitDecompress();
  ferry::transforms::JpegDecoder decoder;
  const ImagePipeline train(PipelineSpec::named("train")), val(PipelineSpec::named("val"));
  const ImagePipeline train_u8(PipelineSpec::named("train_u8")), val_u8(PipelineSpec::named("val_u8"));
  std::vector<uint8_t> out(train.output_bytes(), 1);
  int skipped = 0;

  std::vector<Mode> modes;
  modes.push_back({"raw tjDecompress2 (full size)", [&](const std::vector<uint8_t>& f, uint64_t) {
                     int w = 0, h = 0, sub = 0, cs = 0;
                     if (tjDecompressHeader3(tj, f.data(), f.size(), &w, &h, &sub, &cs) != 0 ||
                         static_cast<size_t>(w) * static_cast<size_t>(h) * 3 > raw_out.size() ||
                         tjDecompress2(tj, f.data(), f.size(), raw_out.data(), w, 0, h, TJPF_RGB, 0) != 0)
                       ++skipped;
                   }});
  modes.push_back({"decode-only (ferry, full size)", [&](const std::vector<uint8_t>& f, uint64_t) {
                     decoder.read_header(f.data(), f.size(), {});
                     decoder.decode({});
                   }});
  auto pipeline_mode = [&](const char* name, const ImagePipeline& p) {
    modes.push_back({name, [&p, &out](const std::vector<uint8_t>& f, uint64_t index) {
                       ferry::Rng rng = ferry::Rng::for_sample(0, 0, index);
                       p.run(f.data(), f.size(), rng, out.data());
                     }});
  };
  pipeline_mode("train (float32 CHW)", train);
  pipeline_mode("val (float32 CHW)", val);
  pipeline_mode("train_u8 (uint8 HWC)", train_u8);
  pipeline_mode("val_u8 (uint8 HWC)", val_u8);

  // Warm-up: one pass of each mode (page faults, thread-local scratch, caches).
  for (auto& m : modes)
    for (size_t i = 0; i < files.size(); ++i) {
      try {
        m.run(files[i], i);
      } catch (const ferry::BadSample& e) {
        if (&m == &modes[1]) ++skipped;
      }
    }

  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  int rounds = 0;
  while (rounds < 3 || std::chrono::duration<double>(clock::now() - start).count() < seconds) {
    for (auto& m : modes) {
      const auto t0 = clock::now();
      const double c0 = thread_cpu_seconds();
      for (size_t i = 0; i < files.size(); ++i) {
        try {
          m.run(files[i], i);
        } catch (const ferry::BadSample&) {
        }
      }
      const double cpu = thread_cpu_seconds() - c0;
      const double wall = std::chrono::duration<double>(clock::now() - t0).count();
      m.rates.push_back(static_cast<double>(files.size()) / cpu);
      m.wall_rates.push_back(static_cast<double>(files.size()) / wall);
    }
    ++rounds;
    std::printf("  round %d done (%.0f s)\n", rounds, std::chrono::duration<double>(clock::now() - start).count());
    std::fflush(stdout);
  }
  tjDestroy(tj);

  std::printf(
      "\n| mode | images per CPU-second (median of %d rounds) | min | max | vs raw (median of per-round ratios) | "
      "images per wall-second |\n"
      "|---|---:|---:|---:|---:|---:|\n",
      rounds);
  for (const auto& m : modes) {
    // A round's modes run back to back, so a per-round ratio cancels most of the
    // machine's drift between rounds.
    std::vector<double> ratios;
    for (size_t r = 0; r < m.rates.size(); ++r) ratios.push_back(m.rates[r] / modes[0].rates[r]);
    std::printf("| %s | %.0f | %.0f | %.0f | %.2fx | %.0f |\n", m.name.c_str(), median(m.rates),
                *std::min_element(m.rates.begin(), m.rates.end()), *std::max_element(m.rates.begin(), m.rates.end()),
                median(ratios), median(m.wall_rates));
  }
  if (skipped > 0) std::printf("(%d undecodable files skipped in the warm-up)\n", skipped);

  if (!json.empty()) {
    nlohmann::ordered_json doc, per_cpu_s, per_wall_s;
    for (const auto& m : modes) {
      per_cpu_s[m.name] = median(m.rates);
      per_wall_s[m.name] = median(m.wall_rates);
    }
    doc["files"] = files.size();
    doc["rounds"] = rounds;
    doc["images_per_s"] = per_cpu_s;
    doc["images_per_wall_s"] = per_wall_s;
    std::ofstream j(json);
    j << doc.dump(2) << "\n";
    if (!j) {
      std::fprintf(stderr, "ferry-bench-transforms: cannot write %s\n", json.c_str());
      return 1;
    }
  }
  return 0;
}
