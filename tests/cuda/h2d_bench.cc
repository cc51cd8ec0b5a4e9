// ferry-cuda-bench: H2D throughput of H2DCopier (from registered shared memory,
// as the loader copies) against a plain pinned cudaMemcpyAsync loop of the same
// sizes, alternating in one run; plus the conversion kernel. Prints markdown.
//
//   ferry-cuda-bench            the table
//   ferry-cuda-bench --status   exits 0 with a GPU, 2 (printing why) without
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "base/error.h"
#include "cuda/convert.cuh"
#include "cuda/h2d_copier.h"
#include "cuda/host_registration.h"
#include "cuda/runtime.h"

using namespace ferry;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kSlots = 4;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// A plain loop: back-to-back cudaMemcpyAsync from cudaMallocHost memory.
double plain_gbps(size_t bytes, int iters, unsigned char* host, const std::vector<void*>& dev, cudaStream_t s) {
  FERRY_CUDA_CHECK(cudaStreamSynchronize(s));
  const auto t = Clock::now();
  for (int i = 0; i < iters; ++i) {
    FERRY_CUDA_CHECK(
        cudaMemcpyAsync(dev[i % dev.size()], host + (i % kSlots) * bytes, bytes, cudaMemcpyHostToDevice, s));
  }
  FERRY_CUDA_CHECK(cudaStreamSynchronize(s));
  return static_cast<double>(bytes) * iters / seconds_since(t) / 1e9;
}

// The loader's path: host slots in a registered shared mapping, submitted to
// H2DCopier as they free up; the consumer waits on its own stream and drops
// each batch.
double copier_gbps(size_t bytes, int iters, unsigned char* arena, cuda::H2DCopier& copier, cudaStream_t consumer) {
  std::atomic<int> busy[kSlots] = {};
  std::deque<std::future<cuda::DeviceBatch>> tickets;
  FERRY_CUDA_CHECK(cudaDeviceSynchronize());
  const auto t = Clock::now();
  for (int i = 0; i < iters; ++i) {
    const size_t slot = static_cast<size_t>(i) % kSlots;
    while (busy[slot].load(std::memory_order_acquire)) std::this_thread::yield();
    busy[slot].store(1);
    tickets.push_back(copier.submit(arena + slot * bytes, bytes, [&busy, slot] { busy[slot].store(0); }));
    if (tickets.size() > 2) {
      cuda::DeviceBatch b = tickets.front().get();
      tickets.pop_front();
      b.wait_on(consumer);
    }
  }
  while (!tickets.empty()) {
    tickets.front().get().wait_on(consumer);
    tickets.pop_front();
  }
  FERRY_CUDA_CHECK(cudaStreamSynchronize(consumer));
  for (auto& b : busy) {
    while (b.load()) std::this_thread::yield();
  }
  return static_cast<double>(bytes) * iters / seconds_since(t) / 1e9;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void kernel_row() {
  cuda::ConvertSpec spec;
  spec.batch = 256;
  spec.height = 224;
  spec.width = 224;
  spec.channels = 3;
  spec.mean = {0.485f, 0.456f, 0.406f, 0.f};
  spec.stddev = {0.229f, 0.224f, 0.225f, 1.f};
  void* src = nullptr;
  void* dst = nullptr;
  FERRY_CUDA_CHECK(cudaMalloc(&src, cuda::input_bytes(spec)));
  FERRY_CUDA_CHECK(cudaMalloc(&dst, cuda::input_bytes(spec) * 4));
  FERRY_CUDA_CHECK(cudaMemset(src, 7, cuda::input_bytes(spec)));
  std::printf(
      "\n| conversion kernel, 256x224x224x3 uint8 -> | ms per batch | GB/s (read + write) |\n|---|---:|---:|\n");
  for (DType t : {DType::kFloat32, DType::kFloat16, DType::kBFloat16}) {
    spec.out_dtype = t;
    cuda::convert_hwc_u8_to_chw(spec, static_cast<uint8_t*>(src), nullptr, dst, nullptr);  // warm-up
    cuda::Event start(0), stop(0);
    constexpr int kIters = 50;
    start.record(nullptr);
    for (int i = 0; i < kIters; ++i) {
      cuda::convert_hwc_u8_to_chw(spec, static_cast<uint8_t*>(src), nullptr, dst, nullptr);
    }
    stop.record(nullptr);
    stop.synchronize();
    float ms = 0;
    FERRY_CUDA_CHECK(cudaEventElapsedTime(&ms, start.get(), stop.get()));
    const double per = ms / kIters;
    const double gb = static_cast<double>(cuda::input_bytes(spec) + cuda::output_bytes(spec)) / 1e9;
    std::printf("| %s | %.3f | %.0f |\n", std::string(dtype_name(t)).c_str(), per, gb / (per / 1e3));
  }
  FERRY_CUDA_CHECK(cudaFree(src));
  FERRY_CUDA_CHECK(cudaFree(dst));
}

}  // namespace

int main(int argc, char** argv) try {
  const auto st = cuda::device_status();
  if (argc > 1 && std::strcmp(argv[1], "--status") == 0) {
    if (!st.available) {
      std::printf("no GPU: %s\n", st.reason.c_str());
      return 2;
    }
    std::printf("GPU: %s (sm_%d, %d device(s), driver %d, runtime %d)\n", st.name.c_str(), st.compute_capability,
                st.device_count, st.driver_version, st.runtime_version);
    return 0;
  }
  if (!st.available) {
    std::printf("no GPU: %s\n", st.reason.c_str());
    return 2;
  }
  cuda::ScopedDevice on(0);
  const std::vector<size_t> sizes = {1 << 20, 8 << 20, 64 << 20};
  const size_t max_bytes = sizes.back();

  unsigned char* pinned = nullptr;
  FERRY_CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&pinned), kSlots * max_bytes));
  std::memset(pinned, 1, kSlots * max_bytes);
  void* map =
      ::mmap(nullptr, kSlots * max_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (map == MAP_FAILED) throw SystemError("mmap", errno);
  auto* arena = static_cast<unsigned char*>(map);
  std::memset(arena, 1, kSlots * max_bytes);
  cuda::HostRegistration registered(arena, kSlots * max_bytes);
  std::vector<void*> dev(kSlots);
  for (auto& d : dev) FERRY_CUDA_CHECK(cudaMalloc(&d, max_bytes));
  cuda::Stream plain_stream = cuda::Stream::non_blocking();
  cuda::Stream consumer = cuda::Stream::non_blocking();

  std::printf("## H2D throughput on %s (%s)\n\n", st.name.c_str(), "median of 5 alternating runs");
  std::printf(
      "| batch | plain pinned cudaMemcpyAsync (GB/s) | H2DCopier from registered shared memory (GB/s) | "
      "ratio |\n|---:|---:|---:|---:|\n");
  for (size_t bytes : sizes) {
    const int iters = static_cast<int>(std::clamp<size_t>((size_t{4} << 30) / bytes, 32, 2000));
    cuda::H2DCopier copier(
        {.device = 0, .buffer_bytes = bytes, .buffers = 6, .max_in_flight = kSlots, .consumer_stream = consumer.get()});
    plain_gbps(bytes, 8, pinned, dev, plain_stream.get());  // warm-up
    copier_gbps(bytes, 8, arena, copier, consumer.get());
    std::vector<double> plain, ours;
    for (int rep = 0; rep < 5; ++rep) {
      plain.push_back(plain_gbps(bytes, iters, pinned, dev, plain_stream.get()));
      ours.push_back(copier_gbps(bytes, iters, arena, copier, consumer.get()));
    }
    const double p = median(plain), o = median(ours);
    std::printf("| %zu MiB | %.1f | %.1f | %.0f%% |\n", bytes >> 20, p, o, 100.0 * o / p);
    std::fflush(stdout);
  }
  kernel_row();

  for (auto& d : dev) FERRY_CUDA_CHECK(cudaFree(d));
  registered.reset();
  ::munmap(map, kSlots * max_bytes);
  FERRY_CUDA_CHECK(cudaFreeHost(pinned));
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "ferry-cuda-bench: %s\n", e.what());
  return 1;
}
