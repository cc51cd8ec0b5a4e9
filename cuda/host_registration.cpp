#include "cuda/host_registration.h"

#include <utility>

#include "base/error.h"
#include "cuda/runtime.h"

namespace ferry::cuda {

HostRegistration::HostRegistration(void* ptr, size_t bytes) {
  if (ptr == nullptr || bytes == 0) throw InvalidOption("HostRegistration: empty range (ptr or bytes is 0)");
  check(cudaHostRegister(ptr, bytes, cudaHostRegisterDefault | cudaHostRegisterPortable),
        ("cudaHostRegister(" + std::to_string(bytes) + " bytes)").c_str());
  ptr_ = ptr;
  bytes_ = bytes;
}

HostRegistration::HostRegistration(HostRegistration&& o) noexcept
    : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}

HostRegistration& HostRegistration::operator=(HostRegistration&& o) noexcept {
  if (this != &o) {
    reset();
    ptr_ = std::exchange(o.ptr_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

HostRegistration::~HostRegistration() { reset(); }

void HostRegistration::reset() noexcept {
  if (ptr_ == nullptr) return;
  warn_unless_ok(cudaHostUnregister(ptr_), "cudaHostUnregister");
  ptr_ = nullptr;
  bytes_ = 0;
}

bool is_page_locked(const void* ptr) noexcept {
  cudaPointerAttributes attr{};
  const cudaError_t err = cudaPointerGetAttributes(&attr, ptr);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    return false;
  }
  return attr.type == cudaMemoryTypeHost;
}

}  // namespace ferry::cuda
