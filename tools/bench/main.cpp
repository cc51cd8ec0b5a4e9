// ferry-bench: how many images per second ferry feeds on this machine, where
// the time goes, and how it scales with workers. See docs/bench.md.
#include <csignal>
#include <cstdio>
#include <exception>
#include <fstream>
#include <string>
#include <vector>

#include "tools/bench/bench_options.h"
#include "tools/bench/bench_run.h"
#include "tools/bench/chrome_trace.h"
#include "tools/bench/html_report.h"
#include "tools/bench/run_report.h"
#include "trace/trace.h"

namespace {

using namespace ferry::bench;

// Set by SIGINT/SIGTERM. The handler does not restart system calls, so a
// wait for a batch returns at once and the run ends with what it measured.
volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_stop_signal(int) { g_stop = 1; }

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

int usage_error(const std::string& message) {
  std::fprintf(stderr, "ferry-bench: %s\n%s", message.c_str(), usage().c_str());
  return 2;
}

// Writes `text` to `path`; "-" is stdout.
void write_output(const std::string& path, const std::string& text, const char* what) {
  if (path == "-") {
    std::fputs(text.c_str(), stdout);
    std::fflush(stdout);
    return;
  }
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  f.close();
  if (!f) throw std::runtime_error("cannot write the " + std::string(what) + " to '" + path + "'");
}

int run(const BenchOptions& parsed) {
  // With the JSON on stdout, everything meant for a reader goes to stderr.
  std::FILE* text_out = parsed.json_path == "-" ? stderr : stdout;

  std::string data = parsed.data;
  const bool generated = data.empty();
  if (generated) {
    data = default_sample_dir();
    ensure_sample_data(data, text_out);
  }
  const uint64_t open_start = ferry::trace::now_ns();
  const auto dataset = make_dataset(parsed, data);
  const double open_s = double(ferry::trace::now_ns() - open_start) / 1e9;
  // Opened once more here for file sizes and the paths of bad samples.
  const DataFiles files(parsed, data);
  const double input_bytes_per_image = files.mean_encoded_bytes();

  std::vector<int> worker_counts = parsed.sweep_workers;
  if (worker_counts.empty()) worker_counts.push_back(parsed.workers_auto ? usable_cores() : parsed.workers);

  std::vector<RunReport> runs;
  TraceCapture capture;
  for (int workers : worker_counts) {
    if (g_stop) break;
    BenchOptions o = parsed;
    o.workers = workers;
    if (!parsed.sweep_workers.empty()) o.workers_auto = false;
    RunHooks hooks;
    hooks.progress = text_out;
    if (worker_counts.size() > 1) hooks.progress_label = "[workers " + std::to_string(workers) + "]";
    hooks.trace = !o.trace_path.empty();
    hooks.stop = &g_stop;
    hooks.files = &files;
    RunReport r = run_bench(o, dataset, data, hooks, &capture);
    r.data_generated = generated;
    r.open_s = open_s;
    r.input_bytes_per_image = input_bytes_per_image;
    if (worker_counts.size() > 1) {
      std::fprintf(text_out, "%s: %.1f images/s%s\n", hooks.progress_label.c_str(), r.images_per_s(),
                   r.interrupted ? " (interrupted)" : "");
      std::fflush(text_out);
    }
    runs.push_back(std::move(r));
  }
  const bool interrupted = g_stop != 0 || (!runs.empty() && runs.back().interrupted);
  if (runs.empty()) {
    std::fprintf(stderr, "ferry-bench: interrupted before the first run started\n");
    return kInterruptedExit;
  }

  if (!parsed.trace_path.empty()) {
    const std::map<std::string, std::string> other = {
        {"tool", "ferry-bench"},
        {"pipeline", to_string(parsed.pipeline)},
        {"data", data},
        {"dropped_events", std::to_string(ferry::trace::dropped_events())}};
    write_output(parsed.trace_path, chrome_trace_json(capture.events, capture.processes, capture.origin_ns, other),
                 "trace");
  }

  if (parsed.sweep_workers.empty()) {
    std::fputs(report_text(runs.front()).c_str(), text_out);
    if (!parsed.trace_path.empty())
      std::fprintf(text_out, "  trace            %s (%zu events; open in https://ui.perfetto.dev)\n",
                   parsed.trace_path.c_str(), capture.events.size());
    if (!parsed.json_path.empty()) write_output(parsed.json_path, report_json(runs.front()), "JSON report");
  } else {
    std::fputs(report_text(runs.back()).c_str(), text_out);
    std::fputs("\nsweep over workers:\n", text_out);
    std::fputs(sweep_table(runs).c_str(), text_out);
    if (!parsed.json_path.empty()) write_output(parsed.json_path, sweep_json(runs), "JSON report");
  }
  if (!parsed.bad_samples_path.empty()) write_output(parsed.bad_samples_path, bad_samples_tsv(runs), "bad samples");
  if (!parsed.html_path.empty()) write_output(parsed.html_path, html_report(runs), "HTML report");

  if (interrupted) {
    std::fprintf(stderr, "ferry-bench: interrupted: the report covers what was measured until the signal\n");
    return kInterruptedExit;
  }

  if (parsed.checksum) {
    // Whole epochs must give the same bytes whatever the worker count.
    bool same = true;
    for (const RunReport& r : runs) same = same && r.checksum == runs.front().checksum;
    if (!same && parsed.seconds == 0) {
      std::fprintf(text_out, "checksum: %s\n", runs.back().checksum.c_str());
      std::fprintf(stderr,
                   "ferry-bench: the checksums differ between worker counts: the output is not deterministic\n");
      return 1;
    }
    std::fprintf(text_out, "checksum: %s\n", runs.back().checksum.c_str());
  }
  std::fflush(text_out);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const ParseResult parsed = parse_args(std::vector<std::string>(argv + 1, argv + argc));
  if (parsed.help) {
    std::fputs(usage().c_str(), stdout);
    return 0;
  }
  if (!parsed.error.empty()) return usage_error(parsed.error);
  install_stop_handlers();
  try {
    return run(parsed.options);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "ferry-bench: %s\n", e.what());
    return 1;
  }
}
