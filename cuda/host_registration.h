#pragma once
/// Page-locks an existing host mapping (cudaHostRegister), so that copies from
/// it run at full DMA speed without a staging copy. The loader registers each
/// worker's shared-memory arena once, in the main process; every slot in it is
/// then pinned memory.
///
///   cuda::HostRegistration pinned(arena.data(), arena.size());
///   ... cudaMemcpyAsync(dev, arena.data() + off, n, cudaMemcpyHostToDevice, s);
///   // `pinned` must die before the arena is unmapped.
#include <cstddef>

namespace ferry::cuda {

class HostRegistration {
 public:
  HostRegistration() = default;
  /// Registers [ptr, ptr + bytes) with every CUDA context (portable). Throws
  /// ferry::InvalidOption for an empty range and ferry::Error when the driver
  /// refuses (no GPU, already registered, RLIMIT_MEMLOCK, ...).
  HostRegistration(void* ptr, size_t bytes);
  HostRegistration(HostRegistration&& o) noexcept;
  HostRegistration& operator=(HostRegistration&& o) noexcept;
  HostRegistration(const HostRegistration&) = delete;
  HostRegistration& operator=(const HostRegistration&) = delete;
  /// Unregisters; never throws (a failure is logged to stderr).
  ~HostRegistration();

  void* data() const noexcept { return ptr_; }
  size_t size() const noexcept { return bytes_; }
  bool registered() const noexcept { return ptr_ != nullptr; }
  /// Unregisters now (idempotent).
  void reset() noexcept;

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

/// True when `ptr` lies in page-locked memory known to CUDA (registered or
/// cudaMallocHost). Never throws; false without a driver.
bool is_page_locked(const void* ptr) noexcept;

}  // namespace ferry::cuda
