#include "cuda/device_buffer_pool.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "base/error.h"

namespace ferry::cuda {
namespace {

// How often a waiter re-checks buffers whose release event is still pending on
// the GPU (events cannot wake a condition variable).
constexpr auto kReleasePollInterval = std::chrono::microseconds(100);

}  // namespace

DeviceBufferPool::DeviceBufferPool(int device, size_t count, size_t buffer_bytes, bool interprocess_events)
    : device_(device), buffer_bytes_(buffer_bytes) {
  if (count == 0 || buffer_bytes == 0) {
    throw InvalidOption("DeviceBufferPool: count and buffer_bytes must be positive (got " + std::to_string(count) +
                        " x " + std::to_string(buffer_bytes) + " bytes)");
  }
  if (count > UINT32_MAX) throw InvalidOption("DeviceBufferPool: too many buffers");
  ScopedDevice on(device_);
  const unsigned ready_flags = cudaEventDisableTiming | (interprocess_events ? cudaEventInterprocess : 0u);
  slots_.resize(count);
  try {
    release_stream_ = Stream::non_blocking();
    name_stream(release_stream_.get(), "ferry-release");
    join_ = Event(cudaEventDisableTiming);
    for (size_t i = 0; i < count; ++i) {
      Slot& s = slots_[i];
      check(cudaMalloc(&s.data, buffer_bytes),
            ("cudaMalloc(" + std::to_string(buffer_bytes) + " bytes, buffer " + std::to_string(i) + " of " +
             std::to_string(count) + " on device " + std::to_string(device) + ")")
                .c_str());
      s.ready = Event(ready_flags);
      s.released = Event(cudaEventDisableTiming);
      free_.push_back(static_cast<uint32_t>(i));
    }
  } catch (...) {
    for (Slot& s : slots_) {
      if (s.data) warn_unless_ok(cudaFree(s.data), "cudaFree");
    }
    throw;
  }
}

DeviceBufferPool::~DeviceBufferPool() {
  try {
    ScopedDevice on(device_);
    for (Slot& s : slots_) {
      s.ready = Event();
      s.released = Event();
      if (s.data) warn_unless_ok(cudaFree(s.data), "cudaFree");
    }
  } catch (const RuntimeUnloading&) {
    // Process exit: the driver has freed the buffers with the context.
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ferry: warning: ~DeviceBufferPool: %s\n", e.what());
  }
}

void DeviceBufferPool::reclaim_locked() {
  for (size_t i = 0; i < releasing_.size();) {
    Slot& s = slots_[releasing_[i]];
    if (s.released.query()) {
      s.state = State::kFree;
      free_.push_back(releasing_[i]);
      releasing_.erase(releasing_.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
}

DeviceBuffer DeviceBufferPool::take_locked() {
  const uint32_t index = free_.front();
  free_.pop_front();
  slots_[index].state = State::kInUse;
  return DeviceBuffer{index, slots_[index].data, buffer_bytes_};
}

std::optional<DeviceBuffer> DeviceBufferPool::try_acquire() {
  std::lock_guard lock(mutex_);
  reclaim_locked();
  if (free_.empty()) return std::nullopt;
  return take_locked();
}

std::optional<DeviceBuffer> DeviceBufferPool::acquire_until(Clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  for (;;) {
    reclaim_locked();
    if (!free_.empty()) return take_locked();
    const auto now = Clock::now();
    if (now >= deadline) return std::nullopt;
    // A buffer whose release event is pending frees itself without notifying
    // anyone, so poll for it; otherwise sleep until someone releases.
    const auto wake = releasing_.empty() ? deadline : std::min(deadline, now + kReleasePollInterval);
    freed_.wait_until(lock, wake);
  }
}

DeviceBuffer DeviceBufferPool::acquire(std::chrono::milliseconds timeout) {
  if (auto b = acquire_until(Clock::now() + timeout)) return *b;
  throw Timeout("DeviceBufferPool: no device buffer became free within " + std::to_string(timeout.count()) +
                " ms; all " + std::to_string(count()) +
                " buffers are held by consumers (release batches sooner, or use more buffers)");
}

DeviceBufferPool::Slot& DeviceBufferPool::in_use_slot_locked(const DeviceBuffer& buffer, const char* what) {
  if (buffer.index >= slots_.size() || slots_[buffer.index].data != buffer.data) {
    throw InvalidOption(std::string("DeviceBufferPool::") + what + ": buffer " + std::to_string(buffer.index) +
                        " does not belong to this pool");
  }
  Slot& s = slots_[buffer.index];
  if (s.state != State::kInUse) {
    throw InvalidOption(std::string("DeviceBufferPool::") + what + ": buffer " + std::to_string(buffer.index) +
                        " is not in use (released twice?)");
  }
  return s;
}

void DeviceBufferPool::release(const DeviceBuffer& buffer, cudaEvent_t consumer_done) {
  ScopedDevice on(device_);
  std::lock_guard lock(mutex_);
  Slot& s = in_use_slot_locked(buffer, "release");
  if (consumer_done == nullptr) {
    s.state = State::kFree;
    free_.push_back(buffer.index);
  } else {
    // Copy the consumer's event into our own: the caller may destroy or
    // re-record its event as soon as we return.
    FERRY_CUDA_CHECK(cudaStreamWaitEvent(release_stream_.get(), consumer_done, 0));
    s.released.record(release_stream_.get());
    s.state = State::kReleasing;
    releasing_.push_back(buffer.index);
  }
  freed_.notify_all();
}

void DeviceBufferPool::release_after(const DeviceBuffer& buffer, cudaStream_t consumer_stream) {
  release_after(buffer, std::span<const cudaStream_t>(&consumer_stream, 1));
}

void DeviceBufferPool::release_after(const DeviceBuffer& buffer, std::span<const cudaStream_t> consumer_streams) {
  if (consumer_streams.empty()) throw InvalidOption("DeviceBufferPool::release_after: no consumer stream named");
  ScopedDevice on(device_);
  std::lock_guard lock(mutex_);
  Slot& s = in_use_slot_locked(buffer, "release_after");
  if (consumer_streams.size() == 1) {
    s.released.record(consumer_streams[0]);
  } else {
    // The release stream waits for each consumer stream's current point (a
    // wait captures the event as recorded now, so join_ is reused at once).
    for (cudaStream_t c : consumer_streams) {
      join_.record(c);
      FERRY_CUDA_CHECK(cudaStreamWaitEvent(release_stream_.get(), join_.get(), 0));
    }
    s.released.record(release_stream_.get());
  }
  s.state = State::kReleasing;
  releasing_.push_back(buffer.index);
  freed_.notify_all();
}

cudaEvent_t DeviceBufferPool::ready_event(uint32_t index) const { return slots_.at(index).ready.get(); }

DeviceBuffer DeviceBufferPool::buffer(uint32_t index) const {
  return DeviceBuffer{index, slots_.at(index).data, buffer_bytes_};
}

size_t DeviceBufferPool::free_count() {
  std::lock_guard lock(mutex_);
  reclaim_locked();
  return free_.size();
}

}  // namespace ferry::cuda
