#include "tools/bench/run_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "tools/bench/json_writer.h"

namespace ferry::bench {
namespace {

using trace::Stage;

constexpr Stage kProduceStages[] = {Stage::kRead, Stage::kDecode, Stage::kAugment, Stage::kWrite};
// Shown in the text report even when zero.
constexpr Stage kAlwaysShown[] = {Stage::kRead, Stage::kDecode, Stage::kAugment, Stage::kWrite, Stage::kWaitForBatch};

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

bool always_shown(Stage s) {
  return std::find(std::begin(kAlwaysShown), std::end(kAlwaysShown), s) != std::end(kAlwaysShown);
}

std::string workers_text(const RunReport& r) {
  std::string s = std::to_string(r.options.workers);
  if (r.options.workers_auto) s += " (auto: " + std::to_string(r.usable_cores) + " usable cores)";
  s += " x " + std::to_string(r.options.threads) + (r.options.threads == 1 ? " thread" : " threads");
  return s;
}

std::string run_length_text(const BenchOptions& o) {
  if (o.seconds > 0) return fmt("%g s", o.seconds);
  return std::to_string(o.epochs) + (o.epochs == 1 ? " epoch" : " epochs");
}

}  // namespace

uint64_t percentile(std::vector<uint64_t> values, double p) {
  if (values.empty()) return 0;
  const double rank = std::ceil(p / 100.0 * double(values.size()));
  const size_t k = size_t(std::clamp(rank, 1.0, double(values.size()))) - 1;
  std::nth_element(values.begin(), values.begin() + std::ptrdiff_t(k), values.end());
  return values[k];
}

std::string format_bytes(double bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  return fmt(u == 0 ? "%.0f" : "%.1f", bytes) + " " + kUnits[u];
}

double RunReport::stage_ms_per_image(size_t stage) const {
  return images > 0 ? double(stage_ns.ns[stage]) / 1e6 / double(images) : 0;
}

double RunReport::consumer_wait_fraction() const {
  return wall_s > 0 ? std::min(1.0, double(consumer_wait_ns) / 1e9 / wall_s) : 0;
}

double RunReport::worker_busy_fraction() const {
  if (wall_s <= 0) return 0;
  if (options.workers > 0) return std::min(1.0, double(worker_busy_ns) / 1e9 / (wall_s * options.workers));
  uint64_t produce = 0;
  for (Stage s : kProduceStages) produce += stage_ns.ns[size_t(s)];
  return std::min(1.0, double(produce) / 1e9 / wall_s);
}

std::string report_text(const RunReport& r) {
  const BenchOptions& o = r.options;
  std::string t;
  t += "ferry-bench: " + to_string(o.pipeline) + " pipeline, " + std::to_string(r.images) + " images in " +
       std::to_string(r.batches) + " batches, " + fmt("%.2f s", r.wall_s) + "\n";
  t += "  throughput       " + fmt("%.1f images/s", r.images_per_s()) + ", " + fmt("%.1f MB/s", r.output_mb_per_s()) +
       " out";
  if (r.input_bytes_per_image > 0) t += ", " + fmt("%.1f MB/s", r.input_mb_per_s()) + " in (mean file size)";
  t += "\n";
  t += "  cpu              " + fmt("%.2f s", r.cpu_s) + " over ferry-bench and its workers, " +
       fmt("%.1f images per CPU-second", r.images_per_cpu_s()) + "\n";
  t += "  per image        ms summed over all processes and threads\n";
  for (size_t s = 0; s < trace::kStageCount; ++s) {
    if (!always_shown(Stage(s)) && r.stage_ns.ns[s] == 0) continue;
    char line[96];
    std::snprintf(line, sizeof(line), "    %-16s %9.3f\n", std::string(trace::stage_name(Stage(s))).c_str(),
                  r.stage_ms_per_image(s));
    t += line;
  }
  t += "  consumer waited  " + fmt("%.1f%%", 100 * r.consumer_wait_fraction()) + " of the time; workers busy " +
       fmt("%.1f%%", 100 * r.worker_busy_fraction()) + "\n";
  if (o.workers == 0) {
    t += "  batch latency    n/a with --workers 0 (batches are made in the calling thread)\n";
  } else {
    t += "  batch latency    p50 " + fmt("%.1f ms", r.latency_p50_ms) + ", p99 " + fmt("%.1f ms", r.latency_p99_ms) +
         " (dispatch to arrival)\n";
  }
  t += "  peak memory      " + format_bytes(double(r.peak_rss_bytes)) + " RSS of ferry-bench + " +
       std::to_string(o.workers) + " workers (shared slots " + format_bytes(double(r.shared_memory_bytes)) +
       ", counted per process)\n";
  t += "  bad samples      " + std::to_string(r.skipped_samples) + " skipped, " +
       std::to_string(r.substituted_samples) + " substituted, " + std::to_string(r.decode_warnings) +
       " decode warnings\n";
  for (const std::string& m : r.bad_sample_messages) t += "                   " + m + "\n";
  t += "  configuration    workers " + workers_text(r) + ", batch " + std::to_string(o.batch_size) + ", prefetch " +
       std::to_string(o.prefetch) + ", " + run_length_text(o) + ", seed " + std::to_string(o.seed) + ", shuffle " +
       (o.shuffle ? "on" : "off") + ", start " + to_string(o.start_method) +
       (r.start_method_used.empty() ? "" : " (used: " + r.start_method_used + ")") + ", on-bad-sample " +
       to_string(o.on_bad_sample) + ", device " + to_string(o.device) +
       (o.gpu_normalize ? " (normalized on the GPU)" : "") + "\n";
  t += "  rank             " + std::to_string(r.rank) + " of " + std::to_string(r.world_size) + " (" + r.rank_source +
       ")\n";
  t += "  data             " + r.data + (r.data_generated ? " (generated sample set)" : "") + "\n";
  t += "  dataset          " + r.dataset + "\n";
  t += "  timing           open data " + fmt("%.2f s", r.open_s) + ", loader setup " + fmt("%.2f s", r.setup_s) +
       ", worker start " + fmt("%.3f s", double(r.worker_start_ns) / 1e9) + ", " + std::to_string(r.epochs) +
       " epoch(s) started\n";
  return t;
}

void write_report_json(JsonWriter& w, const RunReport& r) {
  const BenchOptions& o = r.options;
  w.begin_object();
  w.key("images_per_s");
  w.value(r.images_per_s());
  w.key("images");
  w.value(r.images);
  w.key("batches");
  w.value(r.batches);
  w.key("epochs");
  w.value(r.epochs);
  w.key("wall_s");
  w.value(r.wall_s);
  w.key("cpu_s");
  w.value(r.cpu_s);
  w.key("images_per_cpu_s");
  w.value(r.images_per_cpu_s());
  w.key("open_s");
  w.value(r.open_s);
  w.key("setup_s");
  w.value(r.setup_s);
  w.key("mb_per_s");
  w.value(r.output_mb_per_s());
  w.key("input_mb_per_s");
  w.value(r.input_mb_per_s());
  w.key("workers");
  w.value(o.workers);
  w.key("workers_auto");
  w.value(o.workers_auto);
  w.key("threads");
  w.value(o.threads);
  w.key("batch_size");
  w.value(o.batch_size);
  w.key("prefetch");
  w.value(o.prefetch);
  w.key("pipeline");
  w.value(to_string(o.pipeline));
  w.key("seed");
  w.value(o.seed);
  w.key("shuffle");
  w.value(o.shuffle);
  w.key("start_method");
  w.value(to_string(o.start_method));
  w.key("start_method_used");
  w.value(r.start_method_used);
  w.key("sharing");
  w.value(to_string(o.sharing));
  w.key("on_worker_failure");
  w.value(to_string(o.on_worker_failure));
  w.key("on_bad_sample");
  w.value(to_string(o.on_bad_sample));
  w.key("device");
  w.value(to_string(o.device));
  w.key("gpu_normalize");
  w.value(o.gpu_normalize);
  w.key("rank");
  w.value(r.rank);
  w.key("world_size");
  w.value(r.world_size);
  w.key("rank_source");
  w.value(r.rank_source);
  w.key("data");
  w.value(r.data);
  w.key("dataset");
  w.value(r.dataset);
  w.key("stage_ms_per_image");
  w.begin_object();
  for (size_t s = 0; s < trace::kStageCount; ++s) {
    w.key(trace::stage_name(Stage(s)));
    w.value(r.stage_ms_per_image(s));
  }
  w.end_object();
  w.key("consumer_wait_fraction");
  w.value(r.consumer_wait_fraction());
  w.key("worker_busy_fraction");
  w.value(r.worker_busy_fraction());
  w.key("worker_start_s");
  w.value(double(r.worker_start_ns) / 1e9);
  w.key("batch_latency_ms");
  w.begin_object();
  w.key("p50");
  w.value(r.latency_p50_ms);
  w.key("p99");
  w.value(r.latency_p99_ms);
  w.end_object();
  w.key("peak_rss_bytes");
  w.value(r.peak_rss_bytes);
  w.key("shared_memory_bytes");
  w.value(r.shared_memory_bytes);
  w.key("skipped_samples");
  w.value(r.skipped_samples);
  w.key("substituted_samples");
  w.value(r.substituted_samples);
  w.key("decode_warnings");
  w.value(r.decode_warnings);
  if (!r.checksum.empty()) {
    w.key("checksum");
    w.value(r.checksum);
  }
  w.end_object();
}

std::string report_json(const RunReport& r) {
  std::string out;
  JsonWriter w(out, /*pretty=*/true);
  write_report_json(w, r);
  out += '\n';
  return out;
}

std::string sweep_json(const std::vector<RunReport>& runs) {
  std::string out;
  JsonWriter w(out, /*pretty=*/true);
  w.begin_object();
  w.key("sweep");
  w.begin_array();
  for (const RunReport& r : runs) write_report_json(w, r);
  w.end_array();
  w.end_object();
  out += '\n';
  return out;
}

std::string sweep_table(const std::vector<RunReport>& runs) {
  std::string t = "workers  images/s  img/CPU-s   MB/s out  busy%  wait%  p50 ms  p99 ms  peak RSS    scaling";
  const bool with_checksum = !runs.empty() && !runs.front().checksum.empty();
  if (with_checksum) t += "  checksum";
  t += "\n";
  const double base = runs.empty() ? 0 : runs.front().images_per_s();
  for (const RunReport& r : runs) {
    char line[256];
    std::snprintf(line, sizeof(line), "%7d  %8.1f  %9.1f  %8.1f  %5.1f  %5.1f  %6.1f  %6.1f  %-10s  %6.2fx",
                  r.options.workers, r.images_per_s(), r.images_per_cpu_s(), r.output_mb_per_s(),
                  100 * r.worker_busy_fraction(), 100 * r.consumer_wait_fraction(), r.latency_p50_ms, r.latency_p99_ms,
                  format_bytes(double(r.peak_rss_bytes)).c_str(), base > 0 ? r.images_per_s() / base : 0.0);
    t += line;
    if (with_checksum) t += "  " + r.checksum;
    t += "\n";
  }
  return t;
}

}  // namespace ferry::bench
