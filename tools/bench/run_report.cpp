#include "tools/bench/run_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include <nlohmann/json.hpp>

namespace ferry::bench {
namespace {

using trace::Stage;

constexpr Stage kProduceStages[] = {Stage::kRead, Stage::kHeader, Stage::kDecode, Stage::kAugment, Stage::kWrite};
// Bad samples listed in the text report; the JSON and --bad-samples have all.
constexpr size_t kBadSamplesInText = 8;
// Shown in the text report even when zero.
constexpr Stage kAlwaysShown[] = {Stage::kRead,    Stage::kHeader, Stage::kDecode,
                                  Stage::kAugment, Stage::kWrite,  Stage::kWaitForBatch};

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

std::string epochs_text(int64_t n) { return std::to_string(n) + (n == 1 ? " epoch" : " epochs"); }

std::string run_length_text(const BenchOptions& o) {
  std::string s = o.seconds > 0 ? fmt("%g s", o.seconds) : epochs_text(o.epochs);
  if (o.warmup_epochs > 0) s += " after " + epochs_text(o.warmup_epochs) + " of warm-up";
  return s;
}

// A TSV field: one line, no tabs.
std::string tsv_field(std::string s) {
  for (char& c : s)
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  return s;
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
       std::to_string(r.batches) + " batches, " + fmt("%.2f s", r.wall_s) +
       (r.interrupted ? " (INTERRUPTED: what was measured until the signal)" : "") + "\n";
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
  for (size_t i = 0; i < r.bad_samples.size() && i < kBadSamplesInText; ++i)
    t += "                   sample " + std::to_string(r.bad_samples[i].index) + ": " + r.bad_samples[i].message + "\n";
  if (r.bad_samples.size() > kBadSamplesInText)
    t += "                   ... " + std::to_string(r.bad_samples.size() - kBadSamplesInText) +
         " more (all of them with --json or --bad-samples FILE)\n";
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
       " timed epoch(s) started" +
       (r.warmup_epochs > 0 ? " after " + epochs_text(r.warmup_epochs) + " of warm-up (not timed)" : "") + "\n";
  return t;
}

nlohmann::ordered_json report_object(const RunReport& r) {
  const BenchOptions& o = r.options;
  nlohmann::ordered_json j;
  j["images_per_s"] = r.images_per_s();
  j["images"] = r.images;
  j["batches"] = r.batches;
  j["epochs"] = r.epochs;
  j["warmup_epochs"] = r.warmup_epochs;
  j["interrupted"] = r.interrupted;
  j["wall_s"] = r.wall_s;
  j["cpu_s"] = r.cpu_s;
  j["images_per_cpu_s"] = r.images_per_cpu_s();
  j["open_s"] = r.open_s;
  j["setup_s"] = r.setup_s;
  j["mb_per_s"] = r.output_mb_per_s();
  j["input_mb_per_s"] = r.input_mb_per_s();
  j["workers"] = o.workers;
  j["workers_auto"] = o.workers_auto;
  j["threads"] = o.threads;
  j["batch_size"] = o.batch_size;
  j["prefetch"] = o.prefetch;
  j["pipeline"] = to_string(o.pipeline);
  j["seed"] = o.seed;
  j["shuffle"] = o.shuffle;
  j["start_method"] = to_string(o.start_method);
  j["start_method_used"] = r.start_method_used;
  j["sharing"] = to_string(o.sharing);
  j["on_worker_failure"] = to_string(o.on_worker_failure);
  j["on_bad_sample"] = to_string(o.on_bad_sample);
  j["device"] = to_string(o.device);
  j["gpu_normalize"] = o.gpu_normalize;
  j["rank"] = r.rank;
  j["world_size"] = r.world_size;
  j["rank_source"] = r.rank_source;
  j["data"] = r.data;
  j["dataset"] = r.dataset;
  nlohmann::ordered_json stages = nlohmann::ordered_json::object();
  for (size_t s = 0; s < trace::kStageCount; ++s)
    stages[std::string(trace::stage_name(Stage(s)))] = r.stage_ms_per_image(s);
  j["stage_ms_per_image"] = std::move(stages);
  j["consumer_wait_fraction"] = r.consumer_wait_fraction();
  j["worker_busy_fraction"] = r.worker_busy_fraction();
  j["worker_start_s"] = double(r.worker_start_ns) / 1e9;
  j["batch_latency_ms"] = {{"p50", r.latency_p50_ms}, {"p99", r.latency_p99_ms}};
  j["peak_rss_bytes"] = r.peak_rss_bytes;
  j["shared_memory_bytes"] = r.shared_memory_bytes;
  j["skipped_samples"] = r.skipped_samples;
  j["substituted_samples"] = r.substituted_samples;
  j["decode_warnings"] = r.decode_warnings;
  nlohmann::ordered_json bad = nlohmann::ordered_json::array();
  for (const BadSampleEntry& b : r.bad_samples)
    bad.push_back({{"index", b.index}, {"path", b.path}, {"message", b.message}});
  j["bad_samples"] = std::move(bad);
  nlohmann::ordered_json timeline = nlohmann::ordered_json::array();
  for (const TimelinePoint& p : r.timeline) timeline.push_back({p.elapsed_s, p.images});
  j["timeline"] = std::move(timeline);
  if (!r.checksum.empty()) j["checksum"] = r.checksum;
  return j;
}

std::string json_text(const nlohmann::ordered_json& doc, int indent) {
  return doc.dump(indent, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

std::string report_json(const RunReport& r) { return json_text(report_object(r)); }

std::string sweep_json(const std::vector<RunReport>& runs) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const RunReport& r : runs) list.push_back(report_object(r));
  nlohmann::ordered_json doc;
  doc["sweep"] = std::move(list);
  return json_text(doc);
}

std::string bad_samples_tsv(const std::vector<RunReport>& runs) {
  std::string t = "index\tpath\tmessage\n";
  std::set<int64_t> seen;
  for (const RunReport& r : runs)
    for (const BadSampleEntry& b : r.bad_samples)
      if (seen.insert(b.index).second)
        t += std::to_string(b.index) + "\t" + tsv_field(b.path) + "\t" + tsv_field(b.message) + "\n";
  return t;
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
