#include "tools/bench/bench_run.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <set>

#include "base/error.h"
#include "loader/builtin_datasets.h"
#include "loader/data_loader.h"
#include "loader/datasets/open_source.h"
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

double seconds_since(uint64_t start_ns) { return double(trace::now_ns() - start_ns) / 1e9; }

// Mean encoded size over up to 32 samples spread over the source: enough for
// an input MB/s estimate without reading the whole data set twice.
double mean_encoded_bytes(const SampleSource& src) {
  if (src.size() == 0) return 0;
  const int64_t n = src.size();
  const int64_t picks = std::min<int64_t>(n, 32);
  ReadBuffer scratch;
  double total = 0;
  for (int64_t k = 0; k < picks; ++k) total += double(src.read(k * n / picks, scratch).size());
  return total / double(picks);
}

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

std::shared_ptr<Dataset> make_dataset(const std::string& data, Pipeline pipeline) {
  // The built-in constructors make datasets a spawned worker can rebuild.
  if (pipeline == Pipeline::kRead) return open_raw_dataset(data);
  return open_image_dataset(data, transforms::PipelineSpec::named(to_string(pipeline)));
}

double estimate_input_bytes_per_image(const std::string& data) { return mean_encoded_bytes(*open_source(data)); }

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
  std::unique_ptr<GpuNormalizer> normalizer;
  if (options.gpu_normalize) normalizer = std::make_unique<GpuNormalizer>();
  r.setup_s = seconds_since(setup_start);
  r.loader = loader.describe();
  r.shared_memory_bytes = loader.shared_memory_bytes();

  std::FILE* progress_out = hooks.progress;
  Progress progress(progress_out ? progress_out : stderr,
                    progress_out ? progress_style_for(progress_out, options.progress) : ProgressStyle::kNone,
                    options.seconds > 0 ? 0 : per_epoch * options.epochs, options.seconds, hooks.progress_label);
  BatchChecksum checksum;
  TreeMemory memory;
  std::set<int> seen_pids;
  std::vector<int> pids;
  TraceProcessNames names;
  names.names[static_cast<int>(getpid())] = "ferry-bench";

  const uint64_t start = trace::now_ns();
  const double cpu_start = self_cpu_seconds();
  double next_memory_sample = 0;
  bool stop = false;
  for (int64_t epoch = 0; !stop && (options.seconds > 0 || epoch < options.epochs); ++epoch) {
    ++r.epochs;
    bool pids_taken = false;
    for (Batch& batch : loader) {
      // A training step would wait for the copy before using the batch (its
      // stream waits on the GPU when it normalizes there).
      if (normalizer)
        normalizer->run(batch);
      else if (options.device == Device::kCuda)
        wait_until_on_device(batch);
      r.images += batch.size();
      ++r.batches;
      for (const BatchField& f : batch.fields())
        r.output_bytes += f.values.nbytes() + (f.ragged ? f.offsets.nbytes() : 0);
      if (options.checksum) checksum.add(batch);
      if (!pids_taken) {
        pids_taken = true;
        pids = loader.worker_pids();
        for (size_t w = 0; w < pids.size(); ++w)
          if (seen_pids.insert(pids[w]).second) names.names[pids[w]] = "ferry-w" + std::to_string(w);
      }
      const double elapsed = seconds_since(start);
      if (elapsed >= next_memory_sample) {
        memory.sample(pids);
        next_memory_sample = elapsed + 0.05;
      }
      progress.update(r.images, elapsed);
      if (options.seconds > 0 && elapsed >= options.seconds) {
        stop = true;
        break;
      }
    }
    // An epoch that yields nothing (empty data) would spin in --seconds mode.
    if (!pids_taken) break;
  }
  r.wall_s = seconds_since(start);
  // Workers started inside the window, so all their CPU time counts.
  r.cpu_s = self_cpu_seconds() - cpu_start;
  for (int pid : loader.worker_pids()) r.cpu_s += process_cpu_seconds(pid);
  memory.sample(pids);
  memory.finish();
  progress.finish();

  const LoaderStats stats = loader.stats();
  r.stage_ns = stats.stage_ns;
  r.consumer_wait_ns = stats.consumer_wait_ns;
  r.worker_busy_ns = stats.worker_busy_ns;
  r.worker_start_ns = stats.worker_start_ns;
  r.latency_p50_ms = double(percentile(stats.batch_latency_ns, 50)) / 1e6;
  r.latency_p99_ms = double(percentile(stats.batch_latency_ns, 99)) / 1e6;
  r.peak_rss_bytes = memory.peak_bytes();
  r.skipped_samples = stats.skipped_samples;
  r.substituted_samples = stats.substituted_samples;
  r.decode_warnings = stats.decode_warnings;
  r.start_method_used = stats.start_method;
  r.bad_sample_messages = stats.bad_sample_messages;
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
