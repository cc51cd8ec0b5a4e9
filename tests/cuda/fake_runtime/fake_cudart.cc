// A CPU stand-in for the part of the CUDA runtime that ferry's pool, copier
// and host registration use, so that their ordering and threading logic runs
// (under the sanitizers too) on machines without a GPU. Each stream is a
// thread running its work in order; events complete when their recorded point
// of a stream has run; memcpy takes a little time, like DMA. Linked into
// cuda_fake_runtime_test ahead of libcudart, whose error strings it keeps.
//
// It models only what the tests rely on: no legacy-stream implicit
// synchronization, one device, device memory is host memory.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

namespace {

constexpr size_t kTotalMemory = size_t{80} << 30;
constexpr auto kCopyTime = std::chrono::microseconds(50);

struct EventState {
  std::mutex mutex;
  std::condition_variable cv;
  uint64_t recorded = 0;   // last generation recorded
  uint64_t completed = 0;  // last generation reached by its stream
};

struct FakeEvent {
  std::shared_ptr<EventState> state = std::make_shared<EventState>();
};

class FakeStream {
 public:
  FakeStream() {
    std::thread([this] { run(); }).detach();
  }
  void enqueue(std::function<void()> task) {
    // Notify under the lock: after a stop task the thread deletes this stream.
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(task));
    cv_.notify_one();
  }
  // Runs everything queued so far, then returns.
  void synchronize() {
    auto done = std::make_shared<std::promise<void>>();
    auto future = done->get_future();
    enqueue([done] { done->set_value(); });
    future.wait();
  }
  void stop() {
    enqueue(nullptr);  // the thread exits after the work queued before it
  }

 private:
  void run() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return !queue_.empty(); });
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      if (!task) {
        delete this;
        return;
      }
      task();
    }
  }
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
};

struct Device {
  std::mutex mutex;
  std::set<FakeStream*> streams;
  FakeStream* legacy = nullptr;
  std::map<uintptr_t, size_t> allocations;  // device memory
  std::map<uintptr_t, size_t> registered;   // page-locked host ranges
  size_t allocated = 0;
};

Device& device() {
  static Device* d = [] {
    auto* dev = new Device;
    dev->legacy = new FakeStream;
    return dev;
  }();
  return *d;
}

FakeStream* stream_of(cudaStream_t s) { return s == nullptr ? device().legacy : reinterpret_cast<FakeStream*>(s); }
FakeEvent* event_of(cudaEvent_t e) { return reinterpret_cast<FakeEvent*>(e); }

thread_local int t_device = 0;

void synchronize_all() {
  std::set<FakeStream*> streams;
  {
    std::lock_guard lock(device().mutex);
    streams = device().streams;
  }
  for (FakeStream* s : streams) s->synchronize();
  device().legacy->synchronize();
}

}  // namespace

extern "C" {

cudaError_t CUDARTAPI cudaDriverGetVersion(int* v) {
  *v = 13000;
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaGetDeviceProperties(cudaDeviceProp* prop, int dev) {
  if (dev != 0) return cudaErrorInvalidDevice;
  std::memset(prop, 0, sizeof *prop);
  std::strcpy(prop->name, "fake CUDA device (CPU)");
  prop->major = 9;
  prop->minor = 0;
  prop->multiProcessorCount = 4;
  prop->totalGlobalMem = kTotalMemory;
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaGetDevice(int* dev) {
  *dev = t_device;
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaSetDevice(int dev) {
  if (dev != 0) return cudaErrorInvalidDevice;
  t_device = dev;
  return cudaSuccess;
}

cudaError_t CUDARTAPI cudaStreamCreateWithFlags(cudaStream_t* s, unsigned int) {
  auto* stream = new FakeStream;
  std::lock_guard lock(device().mutex);
  device().streams.insert(stream);
  *s = reinterpret_cast<cudaStream_t>(stream);
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaStreamDestroy(cudaStream_t s) {
  {
    std::lock_guard lock(device().mutex);
    if (device().streams.erase(stream_of(s)) == 0) return cudaErrorInvalidResourceHandle;
  }
  stream_of(s)->stop();
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaStreamSynchronize(cudaStream_t s) {
  stream_of(s)->synchronize();
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaDeviceSynchronize(void) {
  synchronize_all();
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaLaunchHostFunc(cudaStream_t s, cudaHostFn_t fn, void* data) {
  stream_of(s)->enqueue([fn, data] { fn(data); });
  return cudaSuccess;
}

cudaError_t CUDARTAPI cudaEventCreateWithFlags(cudaEvent_t* e, unsigned int) {
  *e = reinterpret_cast<cudaEvent_t>(new FakeEvent);
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaEventDestroy(cudaEvent_t e) {
  delete event_of(e);  // work still queued keeps the state alive
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
  auto state = event_of(e)->state;
  uint64_t gen;
  {
    std::lock_guard lock(state->mutex);
    gen = ++state->recorded;
  }
  stream_of(s)->enqueue([state, gen] {
    {
      std::lock_guard lock(state->mutex);
      state->completed = std::max(state->completed, gen);
    }
    state->cv.notify_all();
  });
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaEventQuery(cudaEvent_t e) {
  auto& state = *event_of(e)->state;
  std::lock_guard lock(state.mutex);
  return state.completed >= state.recorded ? cudaSuccess : cudaErrorNotReady;
}
cudaError_t CUDARTAPI cudaEventSynchronize(cudaEvent_t e) {
  auto state = event_of(e)->state;
  std::unique_lock lock(state->mutex);
  const uint64_t target = state->recorded;
  state->cv.wait(lock, [&] { return state->completed >= target; });
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned int) {
  auto state = event_of(e)->state;
  uint64_t target;
  {
    std::lock_guard lock(state->mutex);
    target = state->recorded;
  }
  stream_of(s)->enqueue([state, target] {
    std::unique_lock lock(state->mutex);
    state->cv.wait(lock, [&] { return state->completed >= target; });
  });
  return cudaSuccess;
}

cudaError_t CUDARTAPI cudaMalloc(void** p, size_t bytes) {
  std::lock_guard lock(device().mutex);
  if (device().allocated + bytes > kTotalMemory) return cudaErrorMemoryAllocation;
  *p = std::aligned_alloc(256, (bytes + 255) / 256 * 256);
  if (*p == nullptr) return cudaErrorMemoryAllocation;
  device().allocations[reinterpret_cast<uintptr_t>(*p)] = bytes;
  device().allocated += bytes;
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaFree(void* p) {
  if (p == nullptr) return cudaSuccess;
  synchronize_all();  // cudaFree waits for the device
  std::lock_guard lock(device().mutex);
  auto it = device().allocations.find(reinterpret_cast<uintptr_t>(p));
  if (it == device().allocations.end()) return cudaErrorInvalidValue;
  device().allocated -= it->second;
  device().allocations.erase(it);
  std::free(p);
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaMemGetInfo(size_t* free_bytes, size_t* total) {
  std::lock_guard lock(device().mutex);
  *total = kTotalMemory;
  *free_bytes = kTotalMemory - device().allocated;
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaMemcpyAsync(void* dst, const void* src, size_t n, cudaMemcpyKind, cudaStream_t s) {
  stream_of(s)->enqueue([dst, src, n] {
    std::this_thread::sleep_for(kCopyTime);
    std::memcpy(dst, src, n);
  });
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaMemcpy(void* dst, const void* src, size_t n, cudaMemcpyKind) {
  synchronize_all();
  std::memcpy(dst, src, n);
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaMemset(void* p, int value, size_t n) {
  synchronize_all();
  std::memset(p, value, n);
  return cudaSuccess;
}

cudaError_t CUDARTAPI cudaHostRegister(void* p, size_t bytes, unsigned int) {
  std::lock_guard lock(device().mutex);
  const auto start = reinterpret_cast<uintptr_t>(p);
  for (auto& [s, n] : device().registered) {
    if (start < s + n && s < start + bytes) return cudaErrorHostMemoryAlreadyRegistered;
  }
  device().registered[start] = bytes;
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaHostUnregister(void* p) {
  std::lock_guard lock(device().mutex);
  return device().registered.erase(reinterpret_cast<uintptr_t>(p)) ? cudaSuccess : cudaErrorHostMemoryNotRegistered;
}
cudaError_t CUDARTAPI cudaPointerGetAttributes(cudaPointerAttributes* a, const void* p) {
  std::lock_guard lock(device().mutex);
  std::memset(a, 0, sizeof *a);
  a->type = cudaMemoryTypeUnregistered;
  const auto x = reinterpret_cast<uintptr_t>(p);
  for (auto& [s, n] : device().registered) {
    if (x >= s && x < s + n) a->type = cudaMemoryTypeHost;
  }
  for (auto& [s, n] : device().allocations) {
    if (x >= s && x < s + n) a->type = cudaMemoryTypeDevice;
  }
  return cudaSuccess;
}

}  // extern "C"
