// ferry-pack SRC OUT.ferry: converts an ImageFolder or a file list (or tar
// shards, or another .ferry file) into ferry's packed record format.
//
// Exit status: 0 written; 1 bad data (unreadable or corrupt input); 2 usage
// error; 130 interrupted (SIGINT/SIGTERM; the temporary file is removed).
#include <unistd.h>

#include <csignal>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "base/error.h"
#include "loader/datasets/open_source.h"
#include "tools/cli/cli.h"
#include "tools/pack/pack.h"

namespace {

// Set by SIGINT/SIGTERM; checked after every record, so the writer unwinds
// and removes its temporary file instead of leaving it behind.
volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void on_signal(int) { g_interrupted = 1; }

struct Interrupted {};

constexpr const char* kDescription =
    "Converts SRC into ferry's packed record format, written atomically to OUT.ferry. SRC: an ImageFolder "
    "(root/<class>/<image>), a .csv/.tsv file list (path,label), .tar shards (brace patterns allowed) or a .ferry "
    "file. Keeps the original bytes unless asked to re-encode.";

/// A bar redrawn in place on a terminal; plain lines every 10% otherwise.
class ProgressReport {
 public:
  explicit ProgressReport(bool enabled) : enabled_(enabled), tty_(::isatty(STDERR_FILENO) == 1) {}
  void operator()(uint64_t done, uint64_t total, uint64_t bytes) {
    if (!enabled_ || total == 0) return;
    const int pct = static_cast<int>(done * 100 / total);
    if (tty_) {
      if (pct == last_ && done != total && (done & 63) != 0) return;
      constexpr int kWidth = 40;
      char bar[kWidth + 1];
      const int fill = pct * kWidth / 100;
      for (int k = 0; k < kWidth; ++k) bar[k] = k < fill ? '#' : '.';
      bar[kWidth] = '\0';
      std::fprintf(stderr, "\r[%s] %3d%% %llu/%llu records, %.1f MiB", bar, pct, static_cast<unsigned long long>(done),
                   static_cast<unsigned long long>(total), static_cast<double>(bytes) / (1 << 20));
      if (done == total) std::fputc('\n', stderr);
    } else if (pct / 10 != last_ / 10 || done == total) {
      std::fprintf(stderr, "ferry-pack: %llu/%llu records (%d%%)\n", static_cast<unsigned long long>(done),
                   static_cast<unsigned long long>(total), pct);
    }
    last_ = pct;
  }

 private:
  bool enabled_;
  bool tty_;
  int last_ = -1;
};

}  // namespace

int main(int argc, char** argv) {
  ferry::pack::PackOptions options;
  bool progress = true;
  std::string source_spec, out_path;
  CLI::App app{kDescription, "ferry-pack"};
  app.add_option("SRC", source_spec, "the dataset to pack")->required();
  app.add_option("OUT", out_path, "the .ferry file to write")->required();
  app.add_option("--max-side", options.max_side, "re-encode JPEGs whose longer side exceeds N pixels (0: keep sizes)")
      ->type_name("N")
      ->capture_default_str();
  app.add_option("--quality", options.quality, "JPEG quality of re-encoded images (1..100)")
      ->type_name("Q")
      ->capture_default_str();
  app.add_flag("--reencode-all", options.reencode_all, "re-encode every image, not only those over --max-side")
      ->disable_flag_override();
  app.add_flag_callback(
         "--no-progress", [&] { progress = false; }, "no progress output")
      ->disable_flag_override();
  app.footer("Exit status: 0 written, 1 bad input data, 2 usage error, 130 interrupted.");
  if (const auto status = ferry::cli::parse(app, argc, argv)) return *status;
  // The ranges are the packer's own (pack::validate); refused as usage errors.
  try {
    ferry::pack::validate(options);
  } catch (const ferry::InvalidOption& e) {
    std::fprintf(stderr, "ferry-pack: %s\n%s", e.what(), app.help().c_str());
    return ferry::cli::kUsageExit;
  }
  try {
    const auto source = ferry::open_source(source_spec);
    std::fprintf(stderr, "ferry-pack: %s\n", source->describe().c_str());
    ProgressReport report(progress);
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    const auto stats = ferry::pack::pack(*source, out_path, options, [&](uint64_t d, uint64_t t, uint64_t b) {
      if (g_interrupted) throw Interrupted{};
      report(d, t, b);
    });
    std::fprintf(stderr, "ferry-pack: wrote %s: %llu records, %.1f MiB in, %.1f MiB out, %llu re-encoded, %.2f s\n",
                 out_path.c_str(), static_cast<unsigned long long>(stats.records),
                 static_cast<double>(stats.input_bytes) / (1 << 20),
                 static_cast<double>(stats.output_bytes) / (1 << 20), static_cast<unsigned long long>(stats.reencoded),
                 stats.seconds);
    return 0;
  } catch (const Interrupted&) {
    std::fprintf(stderr, "\nferry-pack: interrupted; %s was not written\n", out_path.c_str());
    return 130;
  } catch (const ferry::InvalidOption& e) {
    std::fprintf(stderr, "ferry-pack: %s\n", e.what());
    return 2;
  } catch (const ferry::Error& e) {
    std::fprintf(stderr, "ferry-pack: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ferry-pack: error: %s\n", e.what());
    return 1;
  }
}
