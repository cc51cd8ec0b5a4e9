#pragma once
/// A fixed set of equally sized device buffers, allocated once and reused: the
/// device memory a loader uses is known up front and never grows.
///
/// A buffer goes back to the pool only after the GPU work of its consumer is
/// done, never earlier: release() takes the consumer's event (or stream), and
/// the buffer becomes free when that event has completed on the GPU. The
/// caller's event may be destroyed or re-recorded right after release().
///
///   cuda::DeviceBufferPool pool(/*device=*/0, /*count=*/4, /*bytes=*/64 << 20);
///   auto buf = pool.acquire(std::chrono::seconds(10));   // blocks until one is free
///   ... fill buf.data on `s`, cudaEventRecord(pool.ready_event(buf.index), s) ...
///   ... consumer works on its stream `c` ...
///   pool.release_after(buf, c);                          // free once `c` gets there
#include <cuda_runtime_api.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "cuda/runtime.h"

namespace ferry::cuda {

/// One buffer of a pool, by value; `index` identifies it to the pool.
struct DeviceBuffer {
  uint32_t index = 0;
  void* data = nullptr;  ///< a whole cudaMalloc allocation (so it can be exported with CUDA IPC)
  size_t bytes = 0;      ///< the pool's buffer size
};

class DeviceBufferPool {
 public:
  using Clock = std::chrono::steady_clock;

  /// Allocates `count` buffers of `buffer_bytes` on `device`, with one "ready"
  /// event each (interprocess-capable with `interprocess_events`, for CUDA IPC).
  /// Throws ferry::InvalidOption for a zero count or size, ferry::Error when the
  /// device is out of memory (nothing stays allocated then).
  DeviceBufferPool(int device, size_t count, size_t buffer_bytes, bool interprocess_events = false);
  /// Frees every buffer (cudaFree waits for work still on the device). Destroy
  /// it only when no buffer is in use.
  ~DeviceBufferPool();
  DeviceBufferPool(const DeviceBufferPool&) = delete;
  DeviceBufferPool& operator=(const DeviceBufferPool&) = delete;

  /// A free buffer, or nullopt when none is free right now.
  std::optional<DeviceBuffer> try_acquire();
  /// Blocks until a buffer is free or `deadline` passes (then nullopt).
  std::optional<DeviceBuffer> acquire_until(Clock::time_point deadline);
  /// Blocks up to `timeout`; throws ferry::Timeout naming the pool's size.
  DeviceBuffer acquire(std::chrono::milliseconds timeout);

  /// Returns `buffer` once `consumer_done` has completed on the GPU. A null
  /// event means the consumer has no GPU work pending (it synchronized).
  void release(const DeviceBuffer& buffer, cudaEvent_t consumer_done);
  /// Returns `buffer` once the work queued so far on `consumer_stream` has
  /// completed (0 is the legacy default stream).
  void release_after(const DeviceBuffer& buffer, cudaStream_t consumer_stream);
  /// Returns `buffer` once the work queued so far on every one of
  /// `consumer_streams` (at least one) has completed.
  void release_after(const DeviceBuffer& buffer, std::span<const cudaStream_t> consumer_streams);

  /// The producer's "buffer is filled" event of buffer `index`; record it after
  /// the work that fills the buffer, consumers wait on it.
  cudaEvent_t ready_event(uint32_t index) const;
  /// Buffer `index` by value (for exporting every buffer once, e.g. CUDA IPC).
  DeviceBuffer buffer(uint32_t index) const;

  int device() const noexcept { return device_; }
  size_t count() const noexcept { return slots_.size(); }
  size_t buffer_bytes() const noexcept { return buffer_bytes_; }
  /// Buffers free now (after reclaiming those whose release event completed).
  size_t free_count();

 private:
  enum class State : uint8_t { kFree, kInUse, kReleasing };
  struct Slot {
    void* data = nullptr;
    Event ready;     // recorded by the producer after filling
    Event released;  // completes when the consumer is done
    State state = State::kFree;
  };

  void reclaim_locked();
  Slot& in_use_slot_locked(const DeviceBuffer& buffer, const char* what);
  DeviceBuffer take_locked();

  int device_;
  size_t buffer_bytes_;
  std::vector<Slot> slots_;
  Stream release_stream_;  // carries waits on consumers' events
  Event join_;             // marks each of several consumer streams for release_stream_
  std::mutex mutex_;
  std::condition_variable freed_;
  std::deque<uint32_t> free_;
  std::vector<uint32_t> releasing_;
};

}  // namespace ferry::cuda
