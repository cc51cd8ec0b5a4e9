#pragma once
// The loader's optional CUDA stage (LoaderOptions::device and pin_memory), kept
// apart from the engine. In the main process only: page-locks each worker
// arena once per pool (cuda::HostRegistration) and copies every delivered
// batch to the device (one cuda::H2DCopier per loader), releasing the host slot
// only once the copy has landed. Nothing here runs in a worker process, and
// this header needs no CUDA header.
//
// CUDA before the first fork: create() probes the GPU in a short-lived child
// while this process is single-threaded and CUDA-free, so the first pool forks
// before the driver starts its threads (they come with the first page-lock or
// copy, in attach()). From then on the process runs the driver's threads (and
// the copier's), which count_threads() counts like any other: later worker
// starts (respawns too; LaunchPolicy decides each) spawn under
// start_method=auto, and an explicit fork is refused.
//
// Teardown order: the copier (it waits for queued copies and runs their
// callbacks), then the registrations, then the pool. Each copy's callback holds
// the registrations of its pool, so a pool stopped between epochs keeps its
// arenas page-locked until its last copy has landed; the callback drops them
// before the slot, so a range is always unregistered while still mapped.
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "loader/batch.h"
#include "loader/detail/engine_config.h"
#include "loader/options.h"

namespace ferry::detail {

class DeviceStage {
 public:
  // What `options` ask for on this machine. Null when batches stay in ordinary
  // host memory; then `note` may say why (pin_memory=auto without a GPU).
  // Throws InvalidOption when device or pin_memory=on cannot be honoured,
  // naming the reason (cuda::device_status()).
  static std::unique_ptr<DeviceStage> create(const LoaderOptions& options, const EngineConfig& config,
                                             std::string& note);
  ~DeviceStage();
  DeviceStage(const DeviceStage&) = delete;
  DeviceStage& operator=(const DeviceStage&) = delete;

  // A worker pool started: page-lock its arenas. Throws ferry::Error when the
  // driver refuses and pin_memory=on; otherwise warns once and goes on with
  // pageable memory.
  void attach(const std::vector<std::span<std::byte>>& arenas);
  // The pool is about to be destroyed.
  void detach() noexcept;
  // The batch the consumer gets: `host` itself (pinning only; marked
  // page_locked() when it lies in a registered arena), or a device
  // batch over a copy of it whose host slot returns once the copy has landed.
  Batch deliver(Batch host);
  // Pinning only: batches delivered from memory that is not page-locked.
  int64_t pageable_batches() const;
  // One line for DataLoader::describe().
  std::string describe() const;

  struct Impl;

 private:
  explicit DeviceStage(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The bytes of `batch`'s memory its fields use: [memory(), memory() + this).
size_t used_bytes(const Batch& batch);

// Empty when a GPU is usable for device/pin_memory, else why not; found as
// DeviceStage::create finds it, without initializing CUDA in a process that
// has not yet (a short-lived child probes), so a first fork stays safe.
std::string gpu_unavailable_reason();

}  // namespace ferry::detail
