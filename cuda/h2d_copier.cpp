#include "cuda/h2d_copier.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>

#include "base/error.h"
#include "trace/trace.h"

namespace ferry::cuda {
namespace {

// The issue thread waits for a device buffer in slices this long, so that
// shutdown never waits for a consumer to release one.
constexpr auto kAcquireSlice = std::chrono::milliseconds(5);
constexpr size_t kNoEvent = SIZE_MAX;

}  // namespace

// ---- DeviceBatch ----

DeviceBatch::DeviceBatch(std::shared_ptr<DeviceBufferPool> pool, std::shared_ptr<const Stream> stream,
                         DeviceBuffer buffer, size_t bytes, cudaStream_t default_consumer)
    : pool_(std::move(pool)),
      stream_(std::move(stream)),
      buffer_(buffer),
      bytes_(bytes),
      default_consumer_(default_consumer) {}

DeviceBatch::DeviceBatch(DeviceBatch&& o) noexcept
    : pool_(std::move(o.pool_)),
      stream_(std::move(o.stream_)),
      buffer_(o.buffer_),
      bytes_(o.bytes_),
      default_consumer_(o.default_consumer_),
      consumers_(std::move(o.consumers_)) {}

DeviceBatch& DeviceBatch::operator=(DeviceBatch&& o) noexcept {
  if (this != &o) {
    release_when_dropped();
    pool_ = std::move(o.pool_);
    stream_ = std::move(o.stream_);
    buffer_ = o.buffer_;
    bytes_ = o.bytes_;
    default_consumer_ = o.default_consumer_;
    consumers_ = std::move(o.consumers_);
  }
  return *this;
}

DeviceBatch::~DeviceBatch() { release_when_dropped(); }

void DeviceBatch::release_when_dropped() noexcept {
  if (!pool_) return;
  auto pool = std::move(pool_);
  stream_.reset();
  try {
    if (consumers_.empty())
      pool->release_after(buffer_, default_consumer_);
    else
      pool->release_after(buffer_, consumers_);
  } catch (const RuntimeUnloading&) {
    // Process exit: the driver has already freed the device memory.
  } catch (const std::exception& e) {
    // The buffer stays out of the pool; the copier reports Timeout later
    // rather than reusing memory the GPU may still read.
    std::fprintf(stderr, "ferry: warning: DeviceBatch release failed: %s\n", e.what());
  }
  consumers_.clear();
}

cudaStream_t DeviceBatch::stream() const noexcept { return stream_ ? stream_->get() : nullptr; }

cudaEvent_t DeviceBatch::ready_event() const {
  if (!pool_) throw Error("DeviceBatch: empty (moved from or released)");
  return pool_->ready_event(buffer_.index);
}

void DeviceBatch::wait_on(cudaStream_t consumer) const {
  FERRY_CUDA_CHECK(cudaStreamWaitEvent(consumer, ready_event(), 0));
  if (std::find(consumers_.begin(), consumers_.end(), consumer) == consumers_.end()) consumers_.push_back(consumer);
}

void DeviceBatch::synchronize() const { FERRY_CUDA_CHECK(cudaEventSynchronize(ready_event())); }

void DeviceBatch::release(cudaEvent_t consumer_done) {
  if (!pool_) return;
  auto pool = std::move(pool_);
  stream_.reset();
  consumers_.clear();
  pool->release(buffer_, consumer_done);
}

void DeviceBatch::release_after(cudaStream_t consumer_stream) {
  if (!pool_) return;
  auto pool = std::move(pool_);
  stream_.reset();
  consumers_.clear();
  pool->release_after(buffer_, consumer_stream);
}

// ---- H2DCopier ----

H2DCopier::H2DCopier(const H2DCopierOptions& options) : options_(options) {
  if (options.buffer_bytes == 0) throw InvalidOption("H2DCopier: buffer_bytes must be positive");
  if (options.buffers == 0) throw InvalidOption("H2DCopier: buffers must be at least 1");
  if (options.max_in_flight == 0) throw InvalidOption("H2DCopier: max_in_flight must be at least 1");
  if (options.timeout.count() <= 0) throw InvalidOption("H2DCopier: timeout must be positive");
  ScopedDevice on(options.device);
  pool_ = std::make_shared<DeviceBufferPool>(options.device, options.buffers, options.buffer_bytes);
  stream_ = std::make_shared<const Stream>(Stream::non_blocking());
  name_stream(stream_->get(), "ferry-h2d");
  done_events_.reserve(options.max_in_flight);
  for (size_t i = 0; i < options.max_in_flight; ++i) {
    // Blocking sync: the done thread sleeps in cudaEventSynchronize instead of spinning.
    done_events_.emplace_back(cudaEventDisableTiming | cudaEventBlockingSync);
  }
  issue_thread_ = std::thread([this] { issue_loop(); });
  try {
    done_thread_ = std::thread([this] { done_loop(); });
  } catch (...) {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    work_.notify_all();
    issue_thread_.join();
    throw;
  }
}

H2DCopier::~H2DCopier() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  work_.notify_all();
  done_.notify_all();
  room_.notify_all();
  if (issue_thread_.joinable()) issue_thread_.join();
  if (done_thread_.joinable()) done_thread_.join();
}

std::future<DeviceBatch> H2DCopier::submit(const void* host, size_t bytes, std::function<void()> on_host_free) {
  if (host == nullptr || bytes == 0) throw InvalidOption("H2DCopier::submit: empty host range");
  if (bytes > options_.buffer_bytes) {
    throw InvalidOption("H2DCopier::submit: batch of " + std::to_string(bytes) +
                        " bytes is larger than the device buffers (" + std::to_string(options_.buffer_bytes) +
                        " bytes); raise buffer_bytes");
  }
  std::unique_lock lock(mutex_);
  const bool room =
      room_.wait_for(lock, options_.timeout, [&] { return stop_ || in_flight_ < options_.max_in_flight; });
  if (stop_) throw Error("H2DCopier::submit: the copier is shutting down");
  if (!room) {
    throw Timeout("H2DCopier::submit: " + std::to_string(in_flight_) + " copies still unfinished after " +
                  std::to_string(options_.timeout.count()) +
                  " ms; device buffers are all held by consumers (drop batches sooner or raise buffers)");
  }
  Submission s{host, bytes, std::move(on_host_free), {}};
  auto future = s.promise.get_future();
  queue_.push_back(std::move(s));
  ++in_flight_;
  lock.unlock();
  work_.notify_one();
  return future;
}

size_t H2DCopier::in_flight() const {
  std::lock_guard lock(mutex_);
  return in_flight_;
}

void H2DCopier::issue_loop() {
  trace::name_this_thread("ferry-h2d");
  bool device_ok = true;
  try {
    FERRY_CUDA_CHECK(cudaSetDevice(options_.device));
  } catch (...) {
    device_ok = false;
  }
  for (;;) {
    Submission s;
    bool cancelled = false;
    {
      std::unique_lock lock(mutex_);
      work_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) break;  // stop_ and nothing left
      s = std::move(queue_.front());
      queue_.pop_front();
      cancelled = stop_;
    }
    if (cancelled || !device_ok) {
      s.promise.set_exception(std::make_exception_ptr(
          Error(cancelled ? "H2DCopier: shut down before the copy started" : "H2DCopier: cudaSetDevice failed")));
      complete(Completion{kNoEvent, std::move(s.on_host_free)});
      continue;
    }
    issue_one(s);
  }
  {
    std::lock_guard lock(mutex_);
    issue_finished_ = true;
  }
  done_.notify_all();
}

void H2DCopier::issue_one(Submission& s) {
  std::optional<DeviceBuffer> buffer;
  try {
    const auto deadline = DeviceBufferPool::Clock::now() + options_.timeout;
    while (!(buffer = pool_->acquire_until(std::min(deadline, DeviceBufferPool::Clock::now() + kAcquireSlice)))) {
      {
        std::lock_guard lock(mutex_);
        if (stop_) throw Error("H2DCopier: shut down while waiting for a free device buffer");
      }
      if (DeviceBufferPool::Clock::now() >= deadline) {
        throw Timeout("H2DCopier: no device buffer came free within " + std::to_string(options_.timeout.count()) +
                      " ms; all " + std::to_string(options_.buffers) +
                      " are held by consumers (drop batches sooner or raise buffers)");
      }
    }
    const size_t ring = next_done_event_;
    {
      trace::ScopedStage stage(trace::Stage::kH2D);
      FERRY_CUDA_CHECK(cudaMemcpyAsync(buffer->data, s.host, s.bytes, cudaMemcpyHostToDevice, stream_->get()));
      FERRY_CUDA_CHECK(cudaEventRecord(pool_->ready_event(buffer->index), stream_->get()));
      done_events_[ring].record(stream_->get());
    }
    next_done_event_ = (next_done_event_ + 1) % done_events_.size();
    DeviceBatch batch(pool_, stream_, *buffer, s.bytes, options_.consumer_stream);
    buffer.reset();  // owned by `batch` now
    {
      std::lock_guard lock(mutex_);
      completions_.push_back(Completion{ring, std::move(s.on_host_free)});
    }
    done_.notify_one();
    s.promise.set_value(std::move(batch));
  } catch (...) {
    if (buffer) {
      // Whatever was queued on the copy stream must finish before the buffer
      // (and the host memory) can be reused.
      try {
        pool_->release_after(*buffer, stream_->get());
      } catch (...) {
      }
      (void)cudaStreamSynchronize(stream_->get());
    }
    s.promise.set_exception(std::current_exception());
    complete(Completion{kNoEvent, std::move(s.on_host_free)});
  }
}

void H2DCopier::complete(Completion c) {
  // Completions run in submission order on the done thread; a failed
  // submission joins the queue like the others.
  {
    std::lock_guard lock(mutex_);
    completions_.push_back(std::move(c));
  }
  done_.notify_one();
}

void H2DCopier::done_loop() {
  trace::name_this_thread("ferry-h2d-done");
  (void)cudaSetDevice(options_.device);
  for (;;) {
    Completion c;
    {
      std::unique_lock lock(mutex_);
      done_.wait(lock, [&] { return !completions_.empty() || issue_finished_; });
      if (completions_.empty()) break;  // issue thread finished and everything completed
      c = std::move(completions_.front());
      completions_.pop_front();
    }
    if (c.ring_index != kNoEvent) {
      // The host memory may be reused only after the copy has read it.
      warn_unless_ok(cudaEventSynchronize(done_events_[c.ring_index].get()), "cudaEventSynchronize(H2D copy)");
    }
    if (c.on_host_free) {
      try {
        c.on_host_free();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "ferry: warning: H2DCopier on_host_free threw: %s\n", e.what());
      } catch (...) {
        std::fprintf(stderr, "ferry: warning: H2DCopier on_host_free threw\n");
      }
    }
    {
      std::lock_guard lock(mutex_);
      --in_flight_;
    }
    room_.notify_one();
  }
}

}  // namespace ferry::cuda
