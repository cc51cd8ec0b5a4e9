#pragma once
/// The CUDA runtime, seen from ferry: is a device there (never throws), a check
/// for every runtime call (throws ferry::Error naming the call), and RAII owners
/// for streams and events.
///
///   auto st = cuda::device_status();
///   if (!st.available) GTEST_SKIP() << st.reason;
///   FERRY_CUDA_CHECK(cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, stream));
///
/// Every class in cuda/ takes the device it works on and sets it itself (per
/// calling thread, restoring the previous one), so callers never have to.
#include <cuda_runtime_api.h>

#include <chrono>
#include <string>
#include <utility>

#include "base/error.h"

namespace ferry::cuda {

/// What device_status() found; `reason` says why a GPU cannot be used.
struct DeviceStatus {
  bool available = false;      ///< at least one usable device
  std::string reason;          ///< empty when available, else what to fix
  int device_count = 0;        ///< devices visible to this process
  std::string name;            ///< device 0's name, e.g. "NVIDIA H200"
  int compute_capability = 0;  ///< device 0's major*10+minor, e.g. 90
  int driver_version = 0;      ///< cudaDriverGetVersion, 0 without a driver
  int runtime_version = 0;     ///< cudaRuntimeGetVersion
};

/// Probes the driver and devices. Never throws; works without a driver or GPU
/// (then `available` is false and `reason` carries the runtime's error text).
/// Initializes the driver in this process (cuInit), which may start the
/// driver's threads; see device_status_in_child().
DeviceStatus device_status() noexcept;

/// device_status() run in a short-lived child process (fork), so that this
/// process stays free of CUDA and of the driver's threads and can still fork
/// workers safely. Only for a single-threaded caller on which CUDA is not
/// initialized (fork keeps one thread: a lock another thread held would stay
/// locked in the child; and a forked child cannot use CUDA its parent already
/// initialized). Waits up to `timeout` for the child, then reports the GPU
/// unusable, saying so. Never throws.
DeviceStatus device_status_in_child(std::chrono::milliseconds timeout) noexcept;

/// True once the CUDA driver has been initialized in this process (by ferry or
/// by anyone else: PyTorch, a library). Never initializes it.
bool driver_initialized() noexcept;

/// Thrown by check() for the errors that only mean the runtime or its context
/// is gone (process exit after cudart unloaded, a reset device): there is
/// nothing left to free, so destructors drop it silently.
class RuntimeUnloading : public Error {
 public:
  using Error::Error;
};

/// True for cudaErrorCudartUnloading and cudaErrorContextIsDestroyed.
bool is_teardown_error(cudaError_t err) noexcept;

/// Throws ferry::Error("<call> failed: <cudaGetErrorString> (<cudaGetErrorName>)")
/// when `err` is not cudaSuccess (RuntimeUnloading for a teardown error), after
/// clearing the runtime's last-error state so a later cudaGetLastError() does
/// not report it again.
void check(cudaError_t err, const char* call);

/// The message check() would throw, for destructors that can only log.
std::string error_message(cudaError_t err, const char* call);

/// Logs a failed call from a destructor (stderr) instead of throwing. Errors
/// that only mean "the process is exiting" (cudart unloading) stay silent.
void warn_unless_ok(cudaError_t err, const char* call) noexcept;

/// Names `stream` in Nsight Systems' timeline (NVTX); a no-op without NVTX.
void name_stream(cudaStream_t stream, const char* name) noexcept;

}  // namespace ferry::cuda

/// Checks one CUDA runtime call; the message names the call as written.
#define FERRY_CUDA_CHECK(call) ::ferry::cuda::check((call), #call)

namespace ferry::cuda {

/// Makes `device` current for the calling thread for one scope, then restores
/// the previous one.
class ScopedDevice {
 public:
  explicit ScopedDevice(int device);
  ~ScopedDevice();
  ScopedDevice(const ScopedDevice&) = delete;
  ScopedDevice& operator=(const ScopedDevice&) = delete;

 private:
  int previous_ = -1;
  bool changed_ = false;
};

/// Owns one cudaStream_t (non-blocking by default: it never synchronizes with
/// the legacy default stream).
class Stream {
 public:
  Stream() = default;
  /// Creates a stream on the current device.
  explicit Stream(unsigned flags);
  static Stream non_blocking() { return Stream(cudaStreamNonBlocking); }
  Stream(Stream&& o) noexcept : stream_(std::exchange(o.stream_, nullptr)) {}
  Stream& operator=(Stream&& o) noexcept;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream();

  cudaStream_t get() const noexcept { return stream_; }
  void synchronize() const;

 private:
  cudaStream_t stream_ = nullptr;
};

/// Owns one cudaEvent_t. Default flags: no timing (cheapest to record and wait
/// on). Add cudaEventBlockingSync for events a host thread sleeps on, and
/// cudaEventInterprocess for events exported with CUDA IPC.
class Event {
 public:
  Event() = default;
  /// Creates an event on the current device.
  explicit Event(unsigned flags);
  Event(Event&& o) noexcept : event_(std::exchange(o.event_, nullptr)) {}
  Event& operator=(Event&& o) noexcept;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  ~Event();

  cudaEvent_t get() const noexcept { return event_; }
  void record(cudaStream_t stream) const;
  /// True when all work captured by the last record() has completed. "Not yet"
  /// leaves nothing in the runtime's last-error slot (a later kernel launch
  /// check would blame itself for it).
  bool query() const;
  void synchronize() const;

 private:
  cudaEvent_t event_ = nullptr;
};

}  // namespace ferry::cuda
