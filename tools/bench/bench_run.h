#pragma once
/// One ferry-bench run: open the data, build the dataset for the pipeline,
/// drive a DataLoader for the asked epochs or seconds, and measure.
///
///   ferry::bench::RunReport r = ferry::bench::run_bench(options, data, {.progress = stdout});
///
/// Loader and dataset failures propagate as ferry::Error (the tool's exit 1).
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "loader/dataset.h"
#include "loader/datasets/sample_source.h"
#include "loader/datasets/segmentation_pairs.h"
#include "tools/bench/bench_options.h"
#include "tools/bench/chrome_trace.h"
#include "tools/bench/run_report.h"
#include "transforms/image_pipeline.h"

namespace ferry::bench {

/// The folder the default sample set goes to: $XDG_CACHE_HOME/ferry/sample-512,
/// else $HOME/.cache/ferry/sample-512, else ./ferry-sample-512.
std::string default_sample_dir();

/// Generates the sample set (512 JPEGs, 8 classes, seed 0) into `dir` unless
/// `dir/.complete` exists; progress lines go to `log` (may be null).
void ensure_sample_data(const std::string& dir, std::FILE* log);

/// The PipelineSpec of options.pipeline (not kRead) with the colour and
/// interpolation flags applied.
transforms::PipelineSpec pipeline_spec(const BenchOptions& options);

/// A dataset for options.pipeline over the source `data` names
/// (open_source()), or over (image, mask) pairs when options.masks is set; it
/// runs under every start method (open_image_dataset/open_raw_dataset/
/// open_segmentation_dataset).
std::shared_ptr<Dataset> make_dataset(const BenchOptions& options, const std::string& data);

/// The files behind `data`, opened once more beside the dataset: their size,
/// for the input MB/s estimate, and each sample's path, for the bad samples.
class DataFiles {
 public:
  /// Opens `data` as make_dataset() does (a SampleSource, or the pairs of options.masks).
  DataFiles(const BenchOptions& options, const std::string& data);
  /// Mean encoded bytes (image and mask, for pairs) of up to 32 samples spread over the data (0 when empty).
  double mean_encoded_bytes() const;
  /// Sample `index`'s file (a pair's image; its message names a bad mask); "" out of range.
  std::string path(int64_t index) const;

 private:
  std::shared_ptr<SampleSource> source_;
  std::shared_ptr<const SegmentationPairs> pairs_;
};

struct RunHooks {
  std::FILE* progress = nullptr;  ///< where progress goes (style from isatty); null = none
  std::string progress_label;     ///< prefix of progress lines, e.g. "[workers 2]"
  bool trace = false;             ///< record trace events into the report's trace fields
  /// Non-zero once the run should stop (set by a SIGINT/SIGTERM handler that
  /// does not restart system calls): the run ends at the next batch, or at
  /// once when the loader is waiting for one, with RunReport::interrupted set.
  const volatile std::sig_atomic_t* stop = nullptr;
  /// The opened data, for the paths of bad samples; null leaves them empty.
  const DataFiles* files = nullptr;
};

struct TraceCapture {
  std::vector<trace::Event> events;
  TraceProcessNames processes;
  uint64_t origin_ns = 0;
};

/// Runs `options` (workers already resolved) over `dataset` (opened from
/// `data`). Fills `trace_out` when hooks.trace is set.
RunReport run_bench(const BenchOptions& options, const std::shared_ptr<Dataset>& dataset, const std::string& data,
                    const RunHooks& hooks, TraceCapture* trace_out = nullptr);

}  // namespace ferry::bench
