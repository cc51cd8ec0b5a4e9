#pragma once
/// Host-to-device copies of whole batches on a dedicated stream, off the
/// caller's thread. The host memory should be page-locked (HostRegistration);
/// then each copy is one DMA transfer and the CPU never waits for it.
///
///   cuda::H2DCopier copier({.device = 0, .buffer_bytes = slot_bytes, .buffers = 4, .max_in_flight = 2});
///   auto ticket = copier.submit(slot_ptr, bytes, [&] { release_host_slot(); });
///   cuda::DeviceBatch batch = ticket.get();   // the copy is queued, maybe not done
///   batch.wait_on(train_stream);              // GPU-side wait; the CPU goes on
///   launch_training_step(batch.data(), train_stream);
///   // drop it: released once train_stream (every stream it waited on) gets there
///
/// Order of events for one batch: submit() queues it (blocking only while
/// `max_in_flight` copies are unfinished); the "ferry-h2d" thread takes a free
/// device buffer from the pool (waiting while consumers hold them all), queues
/// cudaMemcpyAsync and records the buffer's ready event, and hands the
/// DeviceBatch to the future; the "ferry-h2d-done" thread waits for the copy to
/// finish on the GPU and only then calls `on_host_free`. The device buffer goes
/// back to the pool when the consumer releases the DeviceBatch, once the
/// consumer's streams have passed that point: by default the streams named
/// with wait_on() (PyTorch's side streams included), else
/// H2DCopierOptions::consumer_stream.
///
/// Device memory: `buffers` x `buffer_bytes`, allocated in the constructor,
/// never more. Host memory in use by copies: at most `max_in_flight` batches.
#include <cuda_runtime_api.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "cuda/device_buffer_pool.h"
#include "cuda/runtime.h"

namespace ferry::cuda {

struct H2DCopierOptions {
  int device = 0;                             ///< CUDA device the batches go to
  size_t buffer_bytes = 0;                    ///< largest batch in bytes (required)
  size_t buffers = 4;                         ///< device buffers: batches copying or held by consumers
  size_t max_in_flight = 2;                   ///< submitted copies whose host memory is still in use
  cudaStream_t consumer_stream = nullptr;     ///< a dropped DeviceBatch that waited on no stream is
                                              ///< released after this one (default: the legacy
                                              ///< default stream, like PyTorch)
  std::chrono::milliseconds timeout{60'000};  ///< longest wait for room in submit() or for a free
                                              ///< device buffer; then ferry::Timeout
};

/// One batch on the device, owned by its consumer (move-only; one thread at a
/// time). Valid once the ready event has completed: wait_on() a stream or
/// synchronize() first. Dropping it returns the device buffer once every
/// stream named with wait_on() has passed that point (none named:
/// H2DCopierOptions::consumer_stream), so a stream named there must outlive
/// the batch; release()/release_after() name the consumer's work explicitly.
/// Dropped after the CUDA runtime unloaded (process exit, a static holder), it
/// gives up the buffer silently: the driver has freed everything.
class DeviceBatch {
 public:
  DeviceBatch() = default;
  DeviceBatch(DeviceBatch&& o) noexcept;
  DeviceBatch& operator=(DeviceBatch&& o) noexcept;
  DeviceBatch(const DeviceBatch&) = delete;
  DeviceBatch& operator=(const DeviceBatch&) = delete;
  ~DeviceBatch();

  void* data() const noexcept { return buffer_.data; }
  size_t bytes() const noexcept { return bytes_; }
  /// The copy stream; the batch is ready after the work queued on it so far.
  cudaStream_t stream() const noexcept;
  /// Completes when the copy has landed; valid while this batch is held.
  cudaEvent_t ready_event() const;
  explicit operator bool() const noexcept { return pool_ != nullptr; }

  /// Makes `consumer` wait (on the GPU) for the copy; the CPU does not block.
  /// Remembers `consumer`: dropping the batch releases it after that stream.
  void wait_on(cudaStream_t consumer) const;
  /// The streams named with wait_on() so far, in order, without repeats.
  const std::vector<cudaStream_t>& consumers() const noexcept { return consumers_; }
  /// Blocks the calling thread until the copy has landed.
  void synchronize() const;

  /// Returns the buffer once `consumer_done` completes (null: no GPU work pending).
  void release(cudaEvent_t consumer_done);
  /// Returns the buffer once the work queued so far on `consumer_stream` completes.
  void release_after(cudaStream_t consumer_stream);

 private:
  friend class H2DCopier;
  DeviceBatch(std::shared_ptr<DeviceBufferPool> pool, std::shared_ptr<const Stream> stream, DeviceBuffer buffer,
              size_t bytes, cudaStream_t default_consumer);
  // Drops the batch: released after consumers_ (or default_consumer_); never throws.
  void release_when_dropped() noexcept;

  std::shared_ptr<DeviceBufferPool> pool_;
  std::shared_ptr<const Stream> stream_;  // keeps the copy stream alive with the batch
  DeviceBuffer buffer_;
  size_t bytes_ = 0;
  cudaStream_t default_consumer_ = nullptr;
  mutable std::vector<cudaStream_t> consumers_;  // named with wait_on()
};

class H2DCopier {
 public:
  /// Creates the stream, the device buffers and both threads. Throws
  /// ferry::InvalidOption for bad options, ferry::Error for CUDA failures.
  explicit H2DCopier(const H2DCopierOptions& options);
  /// Cancels copies not yet started (their futures get ferry::Error, their
  /// `on_host_free` runs), waits for copies already queued on the GPU, joins the
  /// threads. Batches still held stay valid until dropped.
  ~H2DCopier();
  H2DCopier(const H2DCopier&) = delete;
  H2DCopier& operator=(const H2DCopier&) = delete;

  /// Queues a copy of [host, host + bytes). Blocks while `max_in_flight` copies
  /// are unfinished (up to `timeout`, then ferry::Timeout). `on_host_free` runs
  /// exactly once, on the "ferry-h2d-done" thread, when the host memory is no
  /// longer needed: after the copy completed on the GPU, or after the copy
  /// failed or was cancelled; callbacks run in submission order. It must be
  /// quick and must not call submit(). Thread-safe.
  /// The future yields the DeviceBatch as soon as the copy is queued, or the
  /// error (ferry::Timeout when no device buffer came free, ferry::Error).
  std::future<DeviceBatch> submit(const void* host, size_t bytes, std::function<void()> on_host_free);

  /// Submitted copies whose `on_host_free` has not run yet.
  size_t in_flight() const;
  const H2DCopierOptions& options() const noexcept { return options_; }
  /// The dedicated copy stream (non-blocking).
  cudaStream_t stream() const noexcept { return stream_->get(); }

 private:
  struct Submission {
    const void* host = nullptr;
    size_t bytes = 0;
    std::function<void()> on_host_free;
    std::promise<DeviceBatch> promise;
  };
  struct Completion {
    size_t ring_index = 0;  // event in done_events_ recorded after the copy; SIZE_MAX: nothing queued
    std::function<void()> on_host_free;
  };

  void issue_loop();
  void done_loop();
  void issue_one(Submission& s);
  void complete(Completion c);

  const H2DCopierOptions options_;
  std::shared_ptr<DeviceBufferPool> pool_;
  std::shared_ptr<const Stream> stream_;
  std::vector<Event> done_events_;  // ring of max_in_flight events, one per unfinished copy
  size_t next_done_event_ = 0;      // issue thread only

  mutable std::mutex mutex_;
  std::condition_variable work_;  // issue thread: a submission arrived, or stop
  std::condition_variable done_;  // done thread: a completion arrived, or stop
  std::condition_variable room_;  // submit(): in_flight_ dropped
  std::deque<Submission> queue_;
  std::deque<Completion> completions_;
  size_t in_flight_ = 0;
  bool stop_ = false;
  bool issue_finished_ = false;

  std::thread issue_thread_;
  std::thread done_thread_;
};

}  // namespace ferry::cuda
