// A CPU stand-in for the part of the CUDA runtime that ferry's cuda/ uses
// (except the kernels), so that the pool, the copier, host registration and
// CUDA IPC run their ordering, threading and process logic on machines without
// a GPU, under the sanitizers too. Linked (as objects) ahead of libcudart,
// whose error strings it keeps.
//
// Model: a stream is a thread running its work in order; an event completes
// when the point of a stream it was recorded at has run; memcpy takes a little
// time, like DMA. Device memory is shared memory (memfd), so CUDA IPC handles
// work across processes: a handle names the owner's pid and fd, opened through
// /proc. Interprocess events keep their state in shared memory as well.
// As the real runtime: a failed call (cudaErrorNotReady too) sets the calling
// thread's last error, which cudaGetLastError() returns and clears; the first
// call that initializes the driver (device count, properties, set device,
// anything that needs a context) starts a thread of the "driver" (the legacy
// stream's); and once exit handlers run, the runtime unloads: every later call
// fails with cudaErrorCudartUnloading. FERRY_FAKE_H2D_DELAY_US sets how long a
// host-to-device copy takes (default 50 us), so tests can make a reader that
// does not wait for a copy see the difference.
// Not modelled: the legacy stream's implicit synchronization, several devices.
#include <cuda_runtime_api.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
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
#include <string>
#include <thread>
#include <utility>

namespace {

constexpr size_t kTotalMemory = size_t{80} << 30;
constexpr auto kCopyTime = std::chrono::microseconds(50);

std::chrono::microseconds h2d_copy_time() {
  static const std::chrono::microseconds t = [] {
    const char* v = std::getenv("FERRY_FAKE_H2D_DELAY_US");
    return v && *v ? std::chrono::microseconds(std::atoll(v)) : kCopyTime;
  }();
  return t;
}

thread_local cudaError_t t_last_error = cudaSuccess;
std::atomic<bool> g_unloading{false};

cudaError_t fail(cudaError_t err) {
  t_last_error = err;
  return err;
}
// Slower than a copy, so a reader that forgets to wait for a fill sees old bytes.
constexpr auto kFillTime = std::chrono::milliseconds(1);
constexpr auto kPoll = std::chrono::microseconds(20);
constexpr uint32_t kHandleMagic = 0x454b4146;  // "FAKE"

struct EventState {                    // lock-free, so it also works in memory shared between processes
  std::atomic<uint64_t> recorded{0};   // last generation recorded
  std::atomic<uint64_t> completed{0};  // last generation its stream has reached
};
static_assert(std::atomic<uint64_t>::is_always_lock_free);

struct FakeEvent {
  EventState* state = nullptr;
  std::shared_ptr<void> keep;  // owns `state` (heap or mapping); queued work holds a copy
  int fd = -1;                 // interprocess events: the memfd holding `state`
};

struct Handle {  // what a fake IPC handle carries
  uint32_t magic;
  int32_t pid;
  int32_t fd;
  uint64_t bytes;
};
static_assert(sizeof(Handle) <= CUDA_IPC_HANDLE_SIZE);

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
  void synchronize() {
    auto done = std::make_shared<std::promise<void>>();
    auto future = done->get_future();
    enqueue([done] { done->set_value(); });
    future.wait();
  }
  void stop() { enqueue(nullptr); }  // the thread exits after the work queued before

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

struct Allocation {
  size_t bytes;
  int fd;
};

struct Device {
  std::mutex mutex;
  std::set<FakeStream*> streams;
  FakeStream* legacy = new FakeStream;
  std::map<uintptr_t, Allocation> allocations;  // device memory
  std::map<uintptr_t, size_t> imported;         // CUDA IPC mappings
  std::map<uintptr_t, size_t> registered;       // page-locked host ranges
  size_t allocated = 0;
};

Device& device() {
  static Device* d = [] {
    // As cudart: its teardown runs among the exit handlers, and those
    // registered before it (static objects built earlier) run after it.
    std::atexit([] { g_unloading.store(true); });
    return new Device;  // never destroyed: stream threads may outlive main()
  }();
  return *d;
}

// Every entry point: after the runtime unloaded, nothing works any more.
#define FAKE_ENTRY() \
  if (g_unloading.load()) return fail(cudaErrorCudartUnloading)

FakeStream* stream_of(cudaStream_t s) {
  if (s == nullptr || s == cudaStreamLegacy || s == cudaStreamPerThread) return device().legacy;
  return reinterpret_cast<FakeStream*>(s);
}
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

void wait_until_reached(const EventState& e, uint64_t target) {
  while (e.completed.load() < target) std::this_thread::sleep_for(kPoll);
}

// A MAP_SHARED mapping of a new memfd; returns the pointer, sets *fd.
void* shared_mapping(size_t bytes, int* fd) {
  *fd = memfd_create("ferry-fake-device", MFD_CLOEXEC);
  if (*fd < 0) return nullptr;
  if (ftruncate(*fd, static_cast<off_t>(bytes)) != 0) {
    close(*fd);
    return nullptr;
  }
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
  if (p == MAP_FAILED) {
    close(*fd);
    return nullptr;
  }
  return p;
}

// Maps another process's fd (named in a handle) into this one.
void* open_handle(const char (&reserved)[CUDA_IPC_HANDLE_SIZE], size_t* bytes) {
  Handle h;
  std::memcpy(&h, reserved, sizeof h);
  if (h.magic != kHandleMagic || h.pid == getpid()) return nullptr;
  const std::string path = "/proc/" + std::to_string(h.pid) + "/fd/" + std::to_string(h.fd);
  const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return nullptr;
  void* p = mmap(nullptr, h.bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  *bytes = h.bytes;
  return p == MAP_FAILED ? nullptr : p;
}

void make_handle(char (&reserved)[CUDA_IPC_HANDLE_SIZE], int fd, size_t bytes) {
  std::memset(reserved, 0, CUDA_IPC_HANDLE_SIZE);
  const Handle h{kHandleMagic, static_cast<int32_t>(getpid()), fd, bytes};
  std::memcpy(reserved, &h, sizeof h);
}

}  // namespace

extern "C" {

cudaError_t CUDARTAPI cudaGetLastError(void) { return std::exchange(t_last_error, cudaSuccess); }
cudaError_t CUDARTAPI cudaPeekAtLastError(void) { return t_last_error; }

cudaError_t CUDARTAPI cudaDriverGetVersion(int* v) {
  FAKE_ENTRY();
  *v = 13000;
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaGetDeviceCount(int* count) {
  FAKE_ENTRY();
  (void)device();  // cuInit: the driver's threads start
  *count = 1;
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaGetDeviceProperties(cudaDeviceProp* prop, int dev) {
  FAKE_ENTRY();
  (void)device();
  if (dev != 0) return fail(cudaErrorInvalidDevice);
  std::memset(prop, 0, sizeof *prop);
  std::strcpy(prop->name, "fake CUDA device (CPU)");
  std::memcpy(prop->uuid.bytes, "fake-device-0000", 16);
  prop->major = 9;
  prop->minor = 0;
  prop->multiProcessorCount = 4;
  prop->totalGlobalMem = kTotalMemory;
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaGetDevice(int* dev) {
  FAKE_ENTRY();
  *dev = t_device;
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaSetDevice(int dev) {
  FAKE_ENTRY();
  (void)device();  // creates the primary context
  if (dev != 0) return fail(cudaErrorInvalidDevice);
  t_device = dev;
  return cudaSuccess;
}

cudaError_t CUDARTAPI cudaStreamCreateWithFlags(cudaStream_t* s, unsigned int) {
  FAKE_ENTRY();
  auto* stream = new FakeStream;
  std::lock_guard lock(device().mutex);
  device().streams.insert(stream);
  *s = reinterpret_cast<cudaStream_t>(stream);
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaStreamDestroy(cudaStream_t s) {
  FAKE_ENTRY();
  {
    std::lock_guard lock(device().mutex);
    if (device().streams.erase(stream_of(s)) == 0) return fail(cudaErrorInvalidResourceHandle);
  }
  stream_of(s)->stop();
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaStreamSynchronize(cudaStream_t s) {
  FAKE_ENTRY();
  stream_of(s)->synchronize();
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaDeviceSynchronize(void) {
  FAKE_ENTRY();
  synchronize_all();
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaLaunchHostFunc(cudaStream_t s, cudaHostFn_t fn, void* data) {
  FAKE_ENTRY();
  stream_of(s)->enqueue([fn, data] { fn(data); });
  return cudaSuccess;
}

cudaError_t CUDARTAPI cudaEventCreateWithFlags(cudaEvent_t* e, unsigned int flags) {
  FAKE_ENTRY();
  auto* ev = new FakeEvent;
  if (flags & cudaEventInterprocess) {
    if ((flags & cudaEventDisableTiming) == 0) {
      delete ev;
      return fail(cudaErrorInvalidValue);  // as CUDA: interprocess events must not time
    }
    void* p = shared_mapping(sizeof(EventState), &ev->fd);
    if (p == nullptr) {
      delete ev;
      return fail(cudaErrorMemoryAllocation);
    }
    ev->state = new (p) EventState;
    ev->keep = std::shared_ptr<void>(p, [](void* q) { munmap(q, sizeof(EventState)); });
  } else {
    auto state = std::make_shared<EventState>();
    ev->state = state.get();
    ev->keep = state;
  }
  *e = reinterpret_cast<cudaEvent_t>(ev);
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaEventDestroy(cudaEvent_t e) {
  FAKE_ENTRY();
  if (event_of(e)->fd >= 0) close(event_of(e)->fd);
  delete event_of(e);  // work still queued keeps the state alive
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
  FAKE_ENTRY();
  EventState* state = event_of(e)->state;
  const uint64_t gen = state->recorded.fetch_add(1) + 1;
  stream_of(s)->enqueue([state, keep = event_of(e)->keep, gen] {
    uint64_t seen = state->completed.load();
    while (seen < gen && !state->completed.compare_exchange_weak(seen, gen)) {
    }
  });
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaEventQuery(cudaEvent_t e) {
  FAKE_ENTRY();
  const EventState* state = event_of(e)->state;
  return state->completed.load() >= state->recorded.load() ? cudaSuccess : fail(cudaErrorNotReady);
}
cudaError_t CUDARTAPI cudaEventSynchronize(cudaEvent_t e) {
  FAKE_ENTRY();
  const EventState* state = event_of(e)->state;
  wait_until_reached(*state, state->recorded.load());
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned int) {
  FAKE_ENTRY();
  EventState* state = event_of(e)->state;
  const uint64_t target = state->recorded.load();
  stream_of(s)->enqueue([state, keep = event_of(e)->keep, target] { wait_until_reached(*state, target); });
  return cudaSuccess;
}

cudaError_t CUDARTAPI cudaMalloc(void** p, size_t bytes) {
  FAKE_ENTRY();
  std::lock_guard lock(device().mutex);
  if (bytes == 0 || device().allocated + bytes > kTotalMemory) return fail(cudaErrorMemoryAllocation);
  int fd = -1;
  *p = shared_mapping(bytes, &fd);
  if (*p == nullptr) return fail(cudaErrorMemoryAllocation);
  device().allocations[reinterpret_cast<uintptr_t>(*p)] = Allocation{bytes, fd};
  device().allocated += bytes;
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaFree(void* p) {
  FAKE_ENTRY();
  if (p == nullptr) return cudaSuccess;
  synchronize_all();  // cudaFree waits for the device
  std::lock_guard lock(device().mutex);
  auto it = device().allocations.find(reinterpret_cast<uintptr_t>(p));
  if (it == device().allocations.end()) return fail(cudaErrorInvalidValue);
  munmap(p, it->second.bytes);
  close(it->second.fd);
  device().allocated -= it->second.bytes;
  device().allocations.erase(it);
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaMemGetInfo(size_t* free_bytes, size_t* total) {
  FAKE_ENTRY();
  std::lock_guard lock(device().mutex);
  *total = kTotalMemory;
  *free_bytes = kTotalMemory - device().allocated;
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaMemcpyAsync(void* dst, const void* src, size_t n, cudaMemcpyKind kind, cudaStream_t s) {
  FAKE_ENTRY();
  stream_of(s)->enqueue([dst, src, n, kind] {
    std::this_thread::sleep_for(kind == cudaMemcpyHostToDevice ? h2d_copy_time() : kCopyTime);
    std::memcpy(dst, src, n);
  });
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaMemcpy(void* dst, const void* src, size_t n, cudaMemcpyKind) {
  FAKE_ENTRY();
  synchronize_all();
  std::memcpy(dst, src, n);
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaMemsetAsync(void* p, int value, size_t n, cudaStream_t s) {
  FAKE_ENTRY();
  stream_of(s)->enqueue([p, value, n] {
    std::this_thread::sleep_for(kFillTime);
    std::memset(p, value, n);
  });
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaMemset(void* p, int value, size_t n) {
  FAKE_ENTRY();
  synchronize_all();
  std::memset(p, value, n);
  return cudaSuccess;
}

cudaError_t CUDARTAPI cudaHostRegister(void* p, size_t bytes, unsigned int) {
  FAKE_ENTRY();
  std::lock_guard lock(device().mutex);
  const auto start = reinterpret_cast<uintptr_t>(p);
  for (auto& [s, n] : device().registered) {
    if (start < s + n && s < start + bytes) return fail(cudaErrorHostMemoryAlreadyRegistered);
  }
  device().registered[start] = bytes;
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaHostUnregister(void* p) {
  FAKE_ENTRY();
  std::lock_guard lock(device().mutex);
  return device().registered.erase(reinterpret_cast<uintptr_t>(p)) ? cudaSuccess
                                                                   : fail(cudaErrorHostMemoryNotRegistered);
}
cudaError_t CUDARTAPI cudaPointerGetAttributes(cudaPointerAttributes* a, const void* p) {
  FAKE_ENTRY();
  std::lock_guard lock(device().mutex);
  std::memset(a, 0, sizeof *a);
  a->type = cudaMemoryTypeUnregistered;
  const auto x = reinterpret_cast<uintptr_t>(p);
  for (auto& [s, n] : device().registered) {
    if (x >= s && x < s + n) a->type = cudaMemoryTypeHost;
  }
  for (auto& [s, alloc] : device().allocations) {
    if (x >= s && x < s + alloc.bytes) a->type = cudaMemoryTypeDevice;
  }
  return cudaSuccess;
}

cudaError_t CUDARTAPI cudaIpcGetMemHandle(cudaIpcMemHandle_t* handle, void* p) {
  FAKE_ENTRY();
  std::lock_guard lock(device().mutex);
  auto it = device().allocations.find(reinterpret_cast<uintptr_t>(p));
  if (it == device().allocations.end()) return fail(cudaErrorInvalidValue);  // not an allocation's base
  make_handle(handle->reserved, it->second.fd, it->second.bytes);
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaIpcOpenMemHandle(void** p, cudaIpcMemHandle_t handle, unsigned int) {
  FAKE_ENTRY();
  size_t bytes = 0;
  *p = open_handle(handle.reserved, &bytes);
  if (*p == nullptr) return fail(cudaErrorInvalidResourceHandle);
  std::lock_guard lock(device().mutex);
  device().imported[reinterpret_cast<uintptr_t>(*p)] = bytes;
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaIpcCloseMemHandle(void* p) {
  FAKE_ENTRY();
  std::lock_guard lock(device().mutex);
  auto it = device().imported.find(reinterpret_cast<uintptr_t>(p));
  if (it == device().imported.end()) return fail(cudaErrorInvalidValue);
  munmap(p, it->second);
  device().imported.erase(it);
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaIpcGetEventHandle(cudaIpcEventHandle_t* handle, cudaEvent_t e) {
  FAKE_ENTRY();
  if (event_of(e)->fd < 0) return fail(cudaErrorInvalidResourceHandle);  // not created interprocess
  make_handle(handle->reserved, event_of(e)->fd, sizeof(EventState));
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaIpcOpenEventHandle(cudaEvent_t* e, cudaIpcEventHandle_t handle) {
  FAKE_ENTRY();
  size_t bytes = 0;
  void* p = open_handle(handle.reserved, &bytes);
  if (p == nullptr) return fail(cudaErrorInvalidResourceHandle);
  auto* ev = new FakeEvent;
  ev->state = static_cast<EventState*>(p);
  ev->keep = std::shared_ptr<void>(p, [bytes](void* q) { munmap(q, bytes); });
  *e = reinterpret_cast<cudaEvent_t>(ev);
  return cudaSuccess;
}

}  // extern "C"
