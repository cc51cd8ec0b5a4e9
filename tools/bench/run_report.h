#pragma once
/// What one ferry-bench run measured, and how it is shown: the readable text
/// report, the JSON document (stable keys, see docs/bench.md), the table of a
/// --sweep-workers run and the bad samples as TSV.
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "tools/bench/bench_options.h"
#include "trace/trace.h"

namespace ferry::bench {

/// One unusable sample of the data (skipped, substituted, or the one that failed the run).
struct BadSampleEntry {
  int64_t index = -1;
  std::string path;     ///< where the sample lives (SampleSource::path), "" when unknown
  std::string message;  ///< the loader's message, e.g. "a.jpg: JPEG decode failed: ..."
};

/// Images delivered so far at a moment of the timed window.
struct TimelinePoint {
  double elapsed_s = 0;
  int64_t images = 0;
};

struct RunReport {
  BenchOptions options;         ///< as used: workers resolved when workers_auto
  int usable_cores = 1;         ///< what --workers auto saw
  std::string data;             ///< the dataset spec that was opened
  bool data_generated = false;  ///< data is the generated sample set
  std::string dataset;          ///< the dataset's one-line description
  std::string loader;           ///< DataLoader::describe()
  int rank = 0;
  int world_size = 1;
  std::string rank_source;        ///< where rank and world size came from
  std::string start_method_used;  ///< what started the workers: fork, spawn, in-process

  int64_t images = 0;
  int64_t batches = 0;
  int64_t epochs = 0;                ///< timed epochs started (the last may be partial with --seconds)
  int64_t warmup_epochs = 0;         ///< epochs run before the timed window (not in any figure but worker start)
  bool interrupted = false;          ///< SIGINT/SIGTERM stopped the run: the figures cover what was measured
  double wall_s = 0;                 ///< start of the timed window to the last batch
  double open_s = 0;                 ///< opening (indexing) the data
  double setup_s = 0;                ///< constructing the loader
  uint64_t output_bytes = 0;         ///< bytes of all batch fields delivered
  double input_bytes_per_image = 0;  ///< mean encoded size over a sample of the data (0: unknown)
  trace::StageTotals stage_ns;       ///< per stage, summed over all processes
  uint64_t consumer_wait_ns = 0;
  uint64_t worker_busy_ns = 0;  ///< summed over workers
  uint64_t worker_start_ns = 0;
  double latency_p50_ms = 0;
  double latency_p99_ms = 0;
  uint64_t peak_rss_bytes = 0;  ///< ferry-bench + its workers, sampled
  uint64_t shared_memory_bytes = 0;
  int64_t skipped_samples = 0;
  int64_t substituted_samples = 0;
  int64_t decode_warnings = 0;
  std::vector<BadSampleEntry> bad_samples;  ///< every bad sample the loader reported, each once, by index
  std::vector<TimelinePoint> timeline;      ///< images over time in the timed window, a point every ~50 ms
  std::string checksum;                     ///< 16 hex digits when --checksum, else empty

  double cpu_s = 0;  ///< CPU seconds of ferry-bench + its workers during wall_s (user + system)

  double images_per_cpu_s() const { return cpu_s > 0 ? double(images) / cpu_s : 0; }
  double images_per_s() const { return wall_s > 0 ? double(images) / wall_s : 0; }
  double output_mb_per_s() const { return wall_s > 0 ? double(output_bytes) / 1e6 / wall_s : 0; }
  double input_mb_per_s() const { return images_per_s() * input_bytes_per_image / 1e6; }
  double stage_ms_per_image(size_t stage) const;
  double consumer_wait_fraction() const;
  /// Time workers had work in flight over workers x wall; with 0 workers,
  /// the time the calling thread spent producing samples over wall.
  double worker_busy_fraction() const;
};

/// Nearest-rank percentile (p in 0..100) of `values`, 0 when empty.
uint64_t percentile(std::vector<uint64_t> values, double p);

/// The readable report (several lines, ends with a newline; no checksum line).
std::string report_text(const RunReport& r);
/// The report as one JSON object (keys in a stable order).
nlohmann::ordered_json report_object(const RunReport& r);
/// A whole JSON document for one run.
std::string report_json(const RunReport& r);
/// A whole JSON document for a sweep: {"sweep": [run, ...]}.
std::string sweep_json(const std::vector<RunReport>& runs);
/// `doc` as text: indented by `indent` (-1: one line), a bad UTF-8 byte in a
/// string (a file name) becomes U+FFFD so the text is always valid JSON.
std::string json_text(const nlohmann::ordered_json& doc, int indent = 2);

/// The bad samples of `runs` (each index once, first seen first) as TSV with
/// a header line: index, path, message; tabs and newlines in a field become spaces.
std::string bad_samples_tsv(const std::vector<RunReport>& runs);
/// The table of a sweep, one row per run.
std::string sweep_table(const std::vector<RunReport>& runs);

/// "412.3 MiB".
std::string format_bytes(double bytes);

}  // namespace ferry::bench
