#include "tools/bench/bench_run.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include "base/error.h"
#include "loader/bad_sample.h"
#include "loader/builtin_datasets.h"
#include "loader/data_loader.h"
#include "loader/datasets/open_source.h"
#include "loader/datasets/segmentation_pairs.h"
#include "loader/samplers/distributed_sampler.h"
#include "tools/bench/batch_checksum.h"
#include "tools/bench/gpu_normalize.h"
#include "tools/bench/progress.h"
#include "tools/bench/tree_memory.h"
#include "tools/gen_sample/sample_data.h"

namespace ferry::bench {
namespace {

constexpr int kSampleImages = 512;
constexpr int kSampleClasses = 8;
// Memory and the timeline are sampled this often (seconds) in the timed window.
constexpr double kSampleInterval = 0.05;
// The timeline keeps at most this many points: past it, every other point goes.
constexpr size_t kMaxTimelinePoints = 2000;

double seconds_since(uint64_t start_ns) { return double(trace::now_ns() - start_ns) / 1e9; }

// Thrown by the loader's on_interrupt when a signal asked the run to stop.
struct Interrupted {};

bool stop_requested(const RunHooks& hooks) { return hooks.stop != nullptr && *hooks.stop != 0; }

void add_timeline_point(std::vector<TimelinePoint>& timeline, double elapsed_s, int64_t images) {
  timeline.push_back({elapsed_s, images});
  if (timeline.size() <= kMaxTimelinePoints) return;
  size_t kept = 0;
  for (size_t i = 0; i < timeline.size(); i += 2) timeline[kept++] = timeline[i];
  timeline.resize(kept);
}

// Every bad sample the loader reported, each index once, with its path.
std::vector<BadSampleEntry> bad_sample_entries(const std::vector<std::string>& messages, const DataFiles* files) {
  std::vector<BadSampleEntry> out;
  std::set<int64_t> seen;
  for (const std::string& m : messages) {
    BadSampleText parsed = parse_bad_sample_message(m);
    if (parsed.index >= 0 && !seen.insert(parsed.index).second) continue;
    BadSampleEntry e;
    e.index = parsed.index;
    e.message = std::move(parsed.what);
    if (files != nullptr) e.path = files->path(e.index);
    out.push_back(std::move(e));
  }
  return out;
}

// The part of `now` that came after `base` (LoaderStats count since construction).
void take_window(const LoaderStats& base, const LoaderStats& now, RunReport& r) {
  for (size_t s = 0; s < trace::kStageCount; ++s) r.stage_ns.ns[s] = now.stage_ns.ns[s] - base.stage_ns.ns[s];
  r.consumer_wait_ns = now.consumer_wait_ns - base.consumer_wait_ns;
  r.worker_busy_ns = now.worker_busy_ns - base.worker_busy_ns;
  r.skipped_samples = now.skipped_samples - base.skipped_samples;
  r.substituted_samples = now.substituted_samples - base.substituted_samples;
  r.decode_warnings = now.decode_warnings - base.decode_warnings;
  const std::vector<uint64_t> latency(now.batch_latency_ns.begin() + std::ptrdiff_t(base.batch_latency_ns.size()),
                                      now.batch_latency_ns.end());
  r.latency_p50_ms = double(percentile(latency, 50)) / 1e6;
  r.latency_p99_ms = double(percentile(latency, 99)) / 1e6;
}

// CPU seconds of this process and of each worker, to subtract what the
// warm-up used.
struct CpuClock {
  double self = 0;
  std::map<int, double> workers;

  static CpuClock now(const std::vector<int>& pids) {
    CpuClock c;
    c.self = self_cpu_seconds();
    for (int pid : pids) c.workers[pid] = process_cpu_seconds(pid);
    return c;
  }
  // Seconds used since `this` by this process and `pids` (a worker started
  // since counts whole).
  double since(const std::vector<int>& pids) const {
    double s = self_cpu_seconds() - self;
    for (int pid : pids) {
      const auto it = workers.find(pid);
      s += process_cpu_seconds(pid) - (it != workers.end() ? it->second : 0.0);
    }
    return s;
  }
};

// The loader's CUDA stage (LoaderOptions::device, Batch::synchronize) is
// used when this build's loader has one; these compile either way.
template <class Options>
bool request_device(Options& o, int device) {
  if constexpr (requires { o.device = device; }) {
    o.device = device;
    return true;
  } else {
    return false;
  }
}

template <class B>
void wait_until_on_device(B& batch) {
  if constexpr (requires { batch.synchronize(); }) batch.synchronize();
}

}  // namespace

std::string default_sample_dir() {
  const std::string leaf = "ferry/sample-" + std::to_string(kSampleImages);
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::string(xdg) + "/" + leaf;
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.cache/" + leaf;
  return "ferry-sample-" + std::to_string(kSampleImages);
}

void ensure_sample_data(const std::string& dir, std::FILE* log) {
  if (std::filesystem::exists(std::filesystem::path(dir) / ".complete")) return;
  namespace fs = std::filesystem;
  if (log) {
    std::fprintf(log, "ferry-bench: generating a sample data set once into %s ...\n", dir.c_str());
    std::fflush(log);
  }
  // Written beside its place and renamed into it, so a concurrent run never
  // reads a half-written set; a leftover from an interrupted run is replaced.
  const fs::path target(dir);
  fs::create_directories(target.parent_path().empty() ? fs::path(".") : target.parent_path());
  const fs::path staging = target.string() + ".tmp-" + std::to_string(getpid());
  fs::remove_all(staging);
  sample::write_image_folder(staging.string(), kSampleImages, kSampleClasses, 0);
  if (fs::exists(target / ".complete")) {
    fs::remove_all(staging);  // another run finished first
    return;
  }
  fs::remove_all(target);
  fs::rename(staging, target);
}

transforms::PipelineSpec pipeline_spec(const BenchOptions& options) {
  transforms::PipelineSpec spec = transforms::PipelineSpec::named(to_string(options.pipeline));
  spec.color_jitter = options.color_jitter;
  spec.grayscale_p = options.grayscale_p;
  spec.interpolation = options.interpolation;
  spec.validate();
  return spec;
}

std::shared_ptr<Dataset> make_dataset(const BenchOptions& options, const std::string& data) {
  // The built-in constructors make datasets a spawned worker can rebuild.
  if (options.pipeline == Pipeline::kRead) return open_raw_dataset(data);
  if (!options.masks.empty())
    return open_segmentation_dataset(data, options.masks == "list" ? "" : options.masks, pipeline_spec(options));
  return open_image_dataset(data, pipeline_spec(options));
}

DataFiles::DataFiles(const BenchOptions& options, const std::string& data) {
  if (options.masks.empty()) {
    source_ = open_source(data);
  } else {
    pairs_ = options.masks == "list" ? SegmentationPairs::from_list(data)
                                     : SegmentationPairs::from_folders(data, options.masks);
  }
}

double DataFiles::mean_encoded_bytes() const {
  // Up to 32 samples spread over the data: enough for an input MB/s
  // estimate without reading the whole data set twice.
  const int64_t n = source_ ? source_->size() : pairs_->size();
  if (n == 0) return 0;
  const int64_t picks = std::min<int64_t>(n, 32);
  ReadBuffer scratch;
  double total = 0;
  for (int64_t k = 0; k < picks; ++k) {
    const int64_t i = k * n / picks;
    total += source_ ? double(source_->read(i, scratch).size())
                     : double(pairs_->read_image(i, scratch).size() + pairs_->read_mask(i, scratch).size());
  }
  return total / double(picks);
}

std::string DataFiles::path(int64_t index) const {
  const int64_t n = source_ ? source_->size() : pairs_->size();
  if (index < 0 || index >= n) return "";
  return source_ ? source_->path(index) : pairs_->image_path(index);
}

RunReport run_bench(const BenchOptions& options, const std::shared_ptr<Dataset>& dataset, const std::string& data,
                    const RunHooks& hooks, TraceCapture* trace_out) {
  RunReport r;
  r.options = options;
  r.usable_cores = usable_cores();
  r.data = data;
  r.dataset = dataset->describe();

  const DistributedEnv env = detect_distributed_env();
  r.rank = env.rank;
  r.world_size = env.world_size;
  r.rank_source = env.source;

  LoaderOptions lo;
  lo.batch_size = options.batch_size;
  lo.shuffle = options.shuffle;
  lo.seed = options.seed;
  lo.num_workers = options.workers;
  lo.prefetch_factor = options.prefetch;
  lo.threads_per_worker = options.threads;
  lo.persistent_workers = options.workers > 0;  // as a training loop of several epochs would set it
  lo.on_bad_sample = options.on_bad_sample;
  lo.start_method = options.start_method;
  lo.sharing = options.sharing;
  lo.on_worker_failure = options.on_worker_failure;
  if (options.device == Device::kCuda && !request_device(lo, 0))
    throw Error(
        "--device cuda: this build's DataLoader has no CUDA stage (no copy of batches to the GPU); run with "
        "--device cpu");
  if (env.world_size > 1) {
    lo.sampler = std::make_shared<DistributedSampler>(make_default_sampler(lo), env.rank, env.world_size);
  }
  const int64_t per_epoch = lo.sampler ? lo.sampler->length(dataset->size()) : dataset->size();
  // The loader calls this when a signal interrupts its wait for a batch.
  lo.on_interrupt = [&hooks] {
    if (stop_requested(hooks)) throw Interrupted{};
  };

  // Workers inherit the recording flag when they are forked.
  const uint64_t origin = trace::now_ns();
  if (hooks.trace) {
    trace::take_events();
    trace::set_recording(true);
  }
  const uint64_t setup_start = trace::now_ns();
  std::unique_ptr<DataLoader> loader_ptr;
  try {
    loader_ptr = std::make_unique<DataLoader>(dataset, lo);
  } catch (const InvalidOption& e) {
    if (options.device != Device::kCuda) throw;
    throw InvalidOption(std::string("--device cuda: ") + e.what());
  }
  DataLoader& loader = *loader_ptr;
  r.setup_s = seconds_since(setup_start);
  r.loader = loader.describe();
  r.shared_memory_bytes = loader.shared_memory_bytes();

  std::FILE* progress_out = hooks.progress;
  std::unique_ptr<GpuNormalizer> normalizer;
  if (options.gpu_normalize) normalizer = std::make_unique<GpuNormalizer>();
  // A training step would wait for the copy before using the batch (its
  // stream waits on the GPU when it normalizes there).
  auto use = [&](Batch& batch) {
    if (normalizer)
      normalizer->run(batch);
    else if (options.device == Device::kCuda)
      wait_until_on_device(batch);
  };
  BatchChecksum checksum;
  TreeMemory memory;
  std::set<int> seen_pids;
  std::vector<int> pids;
  TraceProcessNames names;
  names.names[static_cast<int>(getpid())] = "ferry-bench";
  auto note_workers = [&] {
    pids = loader.worker_pids();
    for (size_t w = 0; w < pids.size(); ++w)
      if (seen_pids.insert(pids[w]).second) names.names[pids[w]] = "ferry-w" + std::to_string(w);
  };

  try {
    // Warm-up: whole epochs before the window (worker start, first touches
    // of every slot, cold file caches); only the loader's counters see them.
    if (options.warmup_epochs > 0 && progress_out && options.progress) {
      std::fprintf(progress_out, "%s%swarm-up: %lld epoch(s), not timed\n", hooks.progress_label.c_str(),
                   hooks.progress_label.empty() ? "" : " ", static_cast<long long>(options.warmup_epochs));
      std::fflush(progress_out);
    }
    for (int64_t e = 0; e < options.warmup_epochs && !stop_requested(hooks); ++e) {
      ++r.warmup_epochs;
      for (Batch& batch : loader) {
        use(batch);
        if (stop_requested(hooks)) throw Interrupted{};
      }
    }
    if (stop_requested(hooks)) throw Interrupted{};
  } catch (const Interrupted&) {
    r.interrupted = true;
  }
  note_workers();
  const LoaderStats base = loader.stats();
  const CpuClock cpu_start = CpuClock::now(pids);

  Progress progress(progress_out ? progress_out : stderr,
                    progress_out ? progress_style_for(progress_out, options.progress) : ProgressStyle::kNone,
                    options.seconds > 0 ? 0 : per_epoch * options.epochs, options.seconds, hooks.progress_label);
  const uint64_t start = trace::now_ns();
  double next_sample = 0;
  bool stop = r.interrupted;
  try {
    for (int64_t epoch = 0; !stop && (options.seconds > 0 || epoch < options.epochs); ++epoch) {
      ++r.epochs;
      bool any_batch = false;
      for (Batch& batch : loader) {
        use(batch);
        r.images += batch.size();
        ++r.batches;
        for (const BatchField& f : batch.fields())
          r.output_bytes += f.values.nbytes() + (f.ragged ? f.offsets.nbytes() : 0);
        if (options.checksum) checksum.add(batch);
        if (!any_batch) {
          any_batch = true;
          note_workers();
        }
        const double elapsed = seconds_since(start);
        if (elapsed >= next_sample) {
          memory.sample(pids);
          add_timeline_point(r.timeline, elapsed, r.images);
          next_sample = elapsed + kSampleInterval;
        }
        progress.update(r.images, elapsed);
        if (stop_requested(hooks)) throw Interrupted{};
        if (options.seconds > 0 && elapsed >= options.seconds) {
          stop = true;
          break;
        }
      }
      // An epoch that yields nothing (empty data) would spin in --seconds mode.
      if (!any_batch) break;
    }
  } catch (const Interrupted&) {
    r.interrupted = true;
  }
  r.wall_s = seconds_since(start);
  add_timeline_point(r.timeline, r.wall_s, r.images);
  r.cpu_s = cpu_start.since(loader.worker_pids());
  memory.sample(pids);
  memory.finish();
  progress.finish();

  const LoaderStats stats = loader.stats();
  take_window(base, stats, r);
  r.worker_start_ns = stats.worker_start_ns;
  r.peak_rss_bytes = memory.peak_bytes();
  r.start_method_used = stats.start_method;
  r.bad_samples = bad_sample_entries(stats.bad_sample_messages, hooks.files);
  if (options.checksum) r.checksum = checksum.hex();

  if (hooks.trace) {
    trace::set_recording(false);
    if (trace_out) {
      trace_out->events = trace::take_events();
      trace_out->processes = names;
      trace_out->origin_ns = origin;
    }
  }
  return r;
}

}  // namespace ferry::bench
