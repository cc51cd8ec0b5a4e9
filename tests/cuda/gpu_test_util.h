#pragma once
// Helpers for the GPU tests: skip without a device, a shared-memory arena like
// the loader's, and a gate that holds a stream back until the test opens it.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "base/error.h"
#include "cuda/runtime.h"

// Skips the test, printing why, when no usable GPU is present.
#define FERRY_REQUIRE_GPU()                                             \
  do {                                                                  \
    const auto ferry_status_ = ::ferry::cuda::device_status();          \
    if (!ferry_status_.available) GTEST_SKIP() << ferry_status_.reason; \
  } while (0)

namespace ferry::cuda::testing {

// cudaMemGetInfo moves by itself on a real GPU: the driver allocates
// per-context memory lazily (module loads, stream and event pools) and keeps
// some. Device-memory growth checks allow this much; one leaked batch of any
// test here is larger.
inline constexpr size_t kDriverMemorySlack = size_t{4} << 20;

// A memfd-backed MAP_SHARED mapping, as a worker arena.
class SharedArena {
 public:
  explicit SharedArena(size_t bytes) : bytes_(bytes) {
    const int fd = static_cast<int>(check_syscall(::memfd_create("ferry-test-arena", MFD_CLOEXEC), "memfd_create"));
    if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
      ::close(fd);
      throw SystemError("ftruncate", errno);
    }
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    ::close(fd);
    if (p == MAP_FAILED) throw SystemError("mmap", errno);
    data_ = static_cast<unsigned char*>(p);
  }
  ~SharedArena() { ::munmap(data_, bytes_); }
  SharedArena(const SharedArena&) = delete;
  SharedArena& operator=(const SharedArena&) = delete;
  unsigned char* data() const { return data_; }
  size_t size() const { return bytes_; }

 private:
  unsigned char* data_ = nullptr;
  size_t bytes_;
};

// Holds `stream` at this point (a host function that waits) until open() or
// destruction, so tests can prove that nothing happens "too early".
class StreamGate {
 public:
  explicit StreamGate(cudaStream_t stream) : state_(std::make_shared<State>()) {
    auto* keep = new std::shared_ptr<State>(state_);
    const cudaError_t err = cudaLaunchHostFunc(stream, &StreamGate::hold, keep);
    if (err != cudaSuccess) delete keep;
    FERRY_CUDA_CHECK(err);
  }
  ~StreamGate() { open(); }
  StreamGate(const StreamGate&) = delete;
  StreamGate& operator=(const StreamGate&) = delete;
  void open() { state_->open.store(true); }
  bool reached() const { return state_->reached.load(); }

 private:
  struct State {
    std::atomic<bool> open{false};
    std::atomic<bool> reached{false};
  };
  static void hold(void* arg) {
    auto* keep = static_cast<std::shared_ptr<State>*>(arg);
    (*keep)->reached.store(true);
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!(*keep)->open.load() && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    delete keep;
  }
  std::shared_ptr<State> state_;
};

}  // namespace ferry::cuda::testing
