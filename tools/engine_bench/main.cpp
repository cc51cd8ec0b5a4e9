// The engine's overhead per batch, with the work held fixed: a dataset that
// copies `--sample-kb` of real (pseudo-random, pre-generated) bytes per
// sample into its slot, so the work is little more than memory bandwidth and
// the engine's share shows.
// The same batches are made in the calling thread (num_workers 0: pure work)
// and by 1 and 2 worker processes, alternating, `--rounds` times; medians.
//
//   overhead per batch = 1/throughput(1 worker) - 1/throughput(in-process)
//
// With one worker and nothing else to do, the worker's loop is the
// bottleneck, so the difference is what the process machinery adds: task and
// result messages, slot hand-off, waits, page faults on the slot.
//
// The main process's CPU per batch (getrusage of this process: the consumer
// and nothing of the workers) says how many batches/s one core of the main
// process can take: 1 / (CPU per batch). Small samples (--sample-kb 1) show
// the engine's own cost; large ones (600) the bandwidth side.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "loader/data_loader.h"
#include "tools/cli/cli.h"

namespace {

class BytesDataset final : public ferry::Dataset {
 public:
  BytesDataset(int64_t size, int64_t sample_bytes) : size_(size), sample_bytes_(sample_bytes) {
    ferry::Rng rng(1);
    source_.resize(size_t(sample_bytes_) / 8 + 512);
    for (auto& w : source_) w = rng.next_u64();
  }
  int64_t size() const override { return size_; }
  ferry::Schema schema() const override {
    return {{"data", ferry::DType::kUInt8, {sample_bytes_}, false, 0}, {"label", ferry::DType::kInt64, {}, false, 0}};
  }
  void get(ferry::SampleContext& ctx, ferry::SampleWriter& out) override {
    // Each sample starts at its own offset, so batches differ.
    std::memcpy(out.fixed(0), source_.data() + ctx.index % 512, size_t(sample_bytes_));
    *out.fixed_as<int64_t>(1) = ctx.index;
  }
  std::string describe() const override { return "BytesDataset"; }

 private:
  int64_t size_;
  int64_t sample_bytes_;
  std::vector<uint64_t> source_;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

struct Run {
  double batches_per_second;
  double main_cpu_per_batch;  // seconds
};

Run run_epoch(const std::shared_ptr<ferry::Dataset>& ds, int workers, int64_t batch, int prefetch) {
  ferry::LoaderOptions o;
  o.batch_size = batch;
  o.prefetch_factor = prefetch;
  o.num_workers = workers;
  o.persistent_workers = workers > 0;
  ferry::DataLoader loader(ds, o);
  for (auto& b : loader) (void)b;  // warm-up epoch: start-up, first touches
  const double cpu0 = cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  int n = 0;
  for (auto& b : loader) {
    (void)b;
    ++n;
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return {n / s, (cpu_seconds() - cpu0) / n};
}

}  // namespace

int main(int argc, char** argv) {
  int64_t sample_kb = 600, batch = 64;
  int batches = 100, rounds = 7, prefetch = ferry::LoaderOptions{}.prefetch_factor;
  CLI::App app{
      "The engine's own cost per batch: the same batches made in the calling thread and by 1 and 2 worker "
      "processes, alternating, medians.",
      "ferry-engine-bench"};
  app.add_option("--sample-kb", sample_kb, "KB copied per sample")
      ->check(ferry::cli::integer_in(1, 1 << 20))
      ->capture_default_str();
  app.add_option("--batch-size", batch, "samples per batch")
      ->check(ferry::cli::integer_in(1, 65536))
      ->capture_default_str();
  app.add_option("--batches", batches, "batches per run")
      ->check(ferry::cli::integer_in(1, 1'000'000))
      ->capture_default_str();
  app.add_option("--rounds", rounds, "alternating rounds")
      ->check(ferry::cli::integer_in(1, 1000))
      ->capture_default_str();
  app.add_option("--prefetch-factor", prefetch, "batches in flight per worker (the loader's option)")
      ->check(ferry::cli::integer_in(1, 64))
      ->capture_default_str();
  if (const auto status = ferry::cli::parse(app, argc, argv)) return *status;
  auto ds = std::make_shared<BytesDataset>(batch * batches, sample_kb * 1000 / 8 * 8);
  std::vector<double> tp[3], cpu[3];
  for (int r = 0; r < rounds; ++r)
    for (int w = 0; w < 3; ++w) {
      const Run run = run_epoch(ds, w, batch, prefetch);
      tp[w].push_back(run.batches_per_second);
      cpu[w].push_back(run.main_cpu_per_batch);
    }
  const double in_process = median(tp[0]), one = median(tp[1]), two = median(tp[2]);
  const double mb = double(batch) * double(sample_kb) / 1000.0;
  std::printf(
      "batch: %lld samples x %lld KB = %.1f MB; %d batches per run, prefetch_factor %d, median of %d alternating "
      "rounds\n",
      (long long)batch, (long long)sample_kb, mb, batches, prefetch, rounds);
  std::printf(
      "| producer | batches/s | GB/s | per batch (ms) | main-process CPU per batch (us) "
      "|\n|---|---:|---:|---:|---:|\n");
  const char* names[] = {"calling thread (num_workers=0)", "1 worker process", "2 worker processes"};
  const double vals[] = {in_process, one, two};
  for (int w = 0; w < 3; ++w)
    std::printf("| %s | %.2f | %.2f | %.3f | %.1f |\n", names[w], vals[w], vals[w] * mb / 1000.0, 1000.0 / vals[w],
                1e6 * median(cpu[w]));
  std::printf("engine overhead per batch (1 worker vs calling thread): %.1f us (%.2f%% of the work)\n",
              1e6 * (1.0 / one - 1.0 / in_process), 100.0 * (in_process / one - 1.0));
  std::printf("main process with 1 worker: %.1f us CPU per batch, so one core takes %.0f batches/s\n",
              1e6 * median(cpu[1]), 1.0 / median(cpu[1]));
  return 0;
}
