#include "cuda/runtime.h"

#include <cstdio>

#include "base/error.h"

#if FERRY_HAVE_NVTX
#include <nvtx3/nvToolsExtCudaRt.h>
#endif

namespace ferry::cuda {

std::string error_message(cudaError_t err, const char* call) {
  const char* text = cudaGetErrorString(err);
  const char* name = cudaGetErrorName(err);
  return std::string(call) + " failed: " + (text ? text : "unknown error") + " (" + (name ? name : "?") + ", " +
         std::to_string(static_cast<int>(err)) + ")";
}

bool is_teardown_error(cudaError_t err) noexcept {
  return err == cudaErrorCudartUnloading || err == cudaErrorContextIsDestroyed;
}

void check(cudaError_t err, const char* call) {
  if (err == cudaSuccess) return;
  // A non-sticky error also sits in the runtime's last-error slot; clear it so
  // the next kernel launch check does not blame itself for this call.
  (void)cudaGetLastError();
  if (is_teardown_error(err)) throw RuntimeUnloading(error_message(err, call));
  throw Error(error_message(err, call));
}

void warn_unless_ok(cudaError_t err, const char* call) noexcept {
  if (err == cudaSuccess) return;
  (void)cudaGetLastError();
  // At process exit the runtime may already be gone; nothing is left to free.
  if (is_teardown_error(err)) return;
  std::fprintf(stderr, "ferry: warning: %s\n", error_message(err, call).c_str());
}

void name_stream(cudaStream_t stream, const char* name) noexcept {
#if FERRY_HAVE_NVTX
  nvtxNameCudaStreamA(stream, name);
#else
  (void)stream;
  (void)name;
#endif
}

DeviceStatus device_status() noexcept {
  DeviceStatus st;
  try {
    (void)cudaRuntimeGetVersion(&st.runtime_version);
    (void)cudaDriverGetVersion(&st.driver_version);
    int count = 0;
    const cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
      (void)cudaGetLastError();
      st.reason = "no usable CUDA device: " + error_message(err, "cudaGetDeviceCount");
      if (st.driver_version == 0) st.reason += "; no NVIDIA driver is loaded on this machine";
      return st;
    }
    st.device_count = count;
    if (count == 0) {
      st.reason = "no CUDA device visible (check CUDA_VISIBLE_DEVICES and nvidia-smi)";
      return st;
    }
    cudaDeviceProp prop{};
    const cudaError_t perr = cudaGetDeviceProperties(&prop, 0);
    if (perr != cudaSuccess) {
      (void)cudaGetLastError();
      st.reason = "CUDA device 0 unusable: " + error_message(perr, "cudaGetDeviceProperties(0)");
      return st;
    }
    st.name = prop.name;
    st.compute_capability = prop.major * 10 + prop.minor;
    st.available = true;
  } catch (...) {  // std::string allocation; keep the promise of noexcept
    st.available = false;
    if (st.reason.empty()) st.reason = "device_status: out of memory";
  }
  return st;
}

ScopedDevice::ScopedDevice(int device) {
  FERRY_CUDA_CHECK(cudaGetDevice(&previous_));
  if (previous_ != device) {
    check(cudaSetDevice(device), ("cudaSetDevice(" + std::to_string(device) + ")").c_str());
    changed_ = true;
  }
}

ScopedDevice::~ScopedDevice() {
  if (changed_) warn_unless_ok(cudaSetDevice(previous_), "cudaSetDevice (restore)");
}

Stream::Stream(unsigned flags) { FERRY_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, flags)); }

Stream& Stream::operator=(Stream&& o) noexcept {
  if (this != &o) {
    if (stream_) warn_unless_ok(cudaStreamDestroy(stream_), "cudaStreamDestroy");
    stream_ = std::exchange(o.stream_, nullptr);
  }
  return *this;
}

Stream::~Stream() {
  if (stream_) warn_unless_ok(cudaStreamDestroy(stream_), "cudaStreamDestroy");
}

void Stream::synchronize() const { FERRY_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

Event::Event(unsigned flags) { FERRY_CUDA_CHECK(cudaEventCreateWithFlags(&event_, flags)); }

Event& Event::operator=(Event&& o) noexcept {
  if (this != &o) {
    if (event_) warn_unless_ok(cudaEventDestroy(event_), "cudaEventDestroy");
    event_ = std::exchange(o.event_, nullptr);
  }
  return *this;
}

Event::~Event() {
  if (event_) warn_unless_ok(cudaEventDestroy(event_), "cudaEventDestroy");
}

void Event::record(cudaStream_t stream) const { FERRY_CUDA_CHECK(cudaEventRecord(event_, stream)); }

bool Event::query() const {
  const cudaError_t err = cudaEventQuery(event_);
  if (err == cudaErrorNotReady) {
    // Not an error, but the runtime records it as the last error; clear it as
    // PyTorch does, or the next cudaGetLastError() after a launch reports it.
    (void)cudaGetLastError();
    return false;
  }
  FERRY_CUDA_CHECK(err);
  return true;
}

void Event::synchronize() const { FERRY_CUDA_CHECK(cudaEventSynchronize(event_)); }

}  // namespace ferry::cuda
