#include "loader/detail/device_stage.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <utility>

#include "base/error.h"
#include "loader/detail/spawn_payload.h"
#include "workers/shared_segment.h"

#ifdef FERRY_HAVE_CUDA
#include "cuda/h2d_copier.h"
#include "cuda/host_registration.h"
#include "cuda/runtime.h"
#endif

namespace ferry::detail {

size_t used_bytes(const Batch& batch) {
  size_t end = 0;
  auto extend = [&](const TensorView& v) {
    if (v.data == nullptr) return;
    const auto offset = size_t(static_cast<const std::byte*>(v.data) - batch.memory());
    end = std::max(end, offset + v.nbytes());
  };
  for (const auto& f : batch.fields()) {
    extend(f.values);
    if (f.ragged) extend(f.offsets);
  }
  return end;
}

#ifdef FERRY_HAVE_CUDA

namespace {

// cuInit on a machine with many GPUs takes seconds; a probe that takes this
// long has a driver problem worth reporting.
constexpr auto kGpuProbeTimeout = std::chrono::seconds(60);

// The loader's first pool forks its workers, so nothing CUDA may run in this
// process before that (the driver starts threads of its own, which the
// fork-safety rule counts): while the process is single-threaded and CUDA is
// untouched, a short-lived child probes. Otherwise the process already runs
// threads (its workers will be spawned, or forked with a warning) or CUDA, and
// probing here changes nothing.
cuda::DeviceStatus probe_gpu() {
  if (count_threads() == 1 && !cuda::driver_initialized()) return cuda::device_status_in_child(kGpuProbeTimeout);
  return cuda::device_status();
}

// The registrations of one pool's arenas; shared by the stage and by each copy
// still reading from them.
struct Registrations {
  std::vector<cuda::HostRegistration> ranges;
};

// A device batch's keep-alive: the Batch's owner() and DeviceMemory.
class DeviceHolder final : public DeviceMemory {
 public:
  DeviceHolder(cuda::DeviceBatch batch, int device) : batch_(std::move(batch)), device_(device) {}
  int device() const noexcept override { return device_; }
  void* stream() const noexcept override { return batch_.stream(); }
  void* ready_event() const override { return batch_.ready_event(); }
  void wait_on(void* stream) const override { batch_.wait_on(static_cast<cudaStream_t>(stream)); }
  void synchronize() const override { batch_.synchronize(); }
  void release_after(void* stream) override {
    if (batch_) batch_.release_after(static_cast<cudaStream_t>(stream));
  }
  void* data() const { return batch_.data(); }

 private:
  cuda::DeviceBatch batch_;
  int device_;
};

// A batch larger than a device buffer (ragged fields past their slot, like a
// one-off host segment): its own device allocation, copied on the legacy
// stream, freed when dropped (cudaFree waits for the device). Rare and slow,
// never a failure.
class OneOffDeviceBuffer final : public DeviceMemory {
 public:
  OneOffDeviceBuffer(int device, const void* host, size_t bytes) : device_(device) {
    cuda::ScopedDevice on(device_);
    FERRY_CUDA_CHECK(cudaMalloc(&data_, bytes));
    try {
      FERRY_CUDA_CHECK(cudaMemcpy(data_, host, bytes, cudaMemcpyHostToDevice));
      ready_ = cuda::Event(cudaEventDisableTiming);
      ready_.record(nullptr);  // cudaMemcpy from pageable memory may return before the DMA lands
    } catch (...) {
      cuda::warn_unless_ok(cudaFree(data_), "cudaFree");
      throw;
    }
  }
  ~OneOffDeviceBuffer() override {
    try {
      cuda::ScopedDevice on(device_);
      cuda::warn_unless_ok(cudaFree(data_), "cudaFree");
    } catch (const cuda::RuntimeUnloading&) {
      // Process exit: the driver has freed it with the context.
    } catch (const std::exception& e) {
      std::fprintf(stderr, "ferry: warning: freeing a one-off device buffer: %s\n", e.what());
    }
  }
  OneOffDeviceBuffer(const OneOffDeviceBuffer&) = delete;
  OneOffDeviceBuffer& operator=(const OneOffDeviceBuffer&) = delete;

  int device() const noexcept override { return device_; }
  void* stream() const noexcept override { return nullptr; }
  void* ready_event() const override { return ready_.get(); }
  void wait_on(void* stream) const override {
    FERRY_CUDA_CHECK(cudaStreamWaitEvent(static_cast<cudaStream_t>(stream), ready_.get(), 0));
  }
  void synchronize() const override { ready_.synchronize(); }
  void release_after(void*) override {}  // cudaFree in the destructor waits for the device
  void* data() const { return data_; }

 private:
  int device_;
  void* data_ = nullptr;
  cuda::Event ready_;
};

}  // namespace

struct DeviceStage::Impl {
  int device = -1;  // -1: pinning only
  PinMemory pin = PinMemory::kOff;
  size_t slot_bytes = 0;
  int prefetch = 2;
  size_t buffers = 4;
  std::string gpu;  // "NVIDIA H200"
  std::shared_ptr<Registrations> registrations;
  std::string pin_problem;       // why the last attach could not page-lock
  int64_t one_off_copies = 0;    // batches larger than a device buffer
  int64_t pageable_batches = 0;  // pinning only: delivered from a one-off segment
  // Declared last: destroyed first (waits for copies, runs their callbacks).
  std::unique_ptr<cuda::H2DCopier> copier;

  // True for memory inside the current pool's page-locked arenas.
  bool in_registered_arena(const std::byte* p) const;

  cuda::H2DCopierOptions copier_options() const {
    cuda::H2DCopierOptions o;
    o.device = device;
    o.buffer_bytes = slot_bytes;
    o.max_in_flight = size_t(prefetch);
    o.buffers = buffers;
    // The copier's own timeout (60 s) stays: waiting for a device buffer means
    // the GPU is behind the loader, not that a worker hangs (options.timeout).
    return o;
  }
};

std::unique_ptr<DeviceStage> DeviceStage::create(const LoaderOptions& options, const EngineConfig& config,
                                                 std::string& note) {
  note.clear();
  if (options.device < 0 && options.pin_memory == PinMemory::kOff) return nullptr;
  const cuda::DeviceStatus status = probe_gpu();
  if (!status.available) {
    if (options.device >= 0)
      throw InvalidOption("ferry: option device=" + std::to_string(options.device) +
                          " needs a usable GPU, and there is none: " + status.reason);
    if (options.pin_memory == PinMemory::kOn)
      throw InvalidOption("ferry: option pin_memory=on needs a usable GPU, and there is none: " + status.reason);
    note = "pin_memory=auto: off (no usable GPU: " + status.reason + ")";
    return nullptr;
  }
  if (options.device >= status.device_count)
    throw InvalidOption("ferry: option device must be -1 or in [0, " + std::to_string(status.device_count) +
                        ") (CUDA devices visible to this process), got " + std::to_string(options.device));
  auto impl = std::make_unique<Impl>();
  impl->device = options.device;
  impl->pin = options.pin_memory;
  impl->slot_bytes = config.slot_bytes;
  impl->prefetch = options.prefetch_factor;
  impl->buffers = config.device_buffers;
  impl->gpu = status.name;
  return std::unique_ptr<DeviceStage>(new DeviceStage(std::move(impl)));
}

DeviceStage::DeviceStage(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

DeviceStage::~DeviceStage() {
  impl_->copier.reset();  // waits for queued copies; their callbacks free the host slots
  impl_->registrations.reset();
}

void DeviceStage::attach(const std::vector<std::span<std::byte>>& arenas) {
  Impl& s = *impl_;
  auto regs = std::make_shared<Registrations>();
  try {
    cuda::ScopedDevice on(std::max(s.device, 0));
    for (const auto& a : arenas) regs->ranges.emplace_back(a.data(), a.size());
    s.pin_problem.clear();
  } catch (const Error& e) {
    if (s.pin == PinMemory::kOn)
      throw Error(std::string("ferry: pin_memory=on: could not page-lock the worker arenas: ") + e.what());
    if (s.pin_problem.empty())
      std::fprintf(stderr, "ferry: warning: could not page-lock the worker arenas (%s); batches stay pageable\n",
                   e.what());
    s.pin_problem = e.what();
    regs.reset();
  }
  s.registrations = std::move(regs);
  // Created after the first pool has started, so that pool's workers were
  // forked before this process ran any CUDA thread.
  if (s.device >= 0 && !s.copier) s.copier = std::make_unique<cuda::H2DCopier>(s.copier_options());
}

void DeviceStage::detach() noexcept { impl_->registrations.reset(); }

bool DeviceStage::Impl::in_registered_arena(const std::byte* p) const {
  if (!registrations) return false;
  for (const auto& r : registrations->ranges) {
    const auto* begin = static_cast<const std::byte*>(r.data());
    if (p >= begin && p < begin + r.size()) return true;
  }
  return false;
}

Batch DeviceStage::deliver(Batch host) {
  Impl& s = *impl_;
  if (s.device < 0) {
    const bool locked = s.in_registered_arena(host.memory());
    host.set_page_locked(locked);
    if (!locked) ++s.pageable_batches;
    return host;
  }
  if (!s.copier) s.copier = std::make_unique<cuda::H2DCopier>(s.copier_options());  // num_workers=0
  const size_t bytes = used_bytes(host);
  if (bytes > s.slot_bytes) {
    auto holder = std::make_shared<OneOffDeviceBuffer>(s.device, host.memory(), bytes);
    ++s.one_off_copies;
    auto* memory = static_cast<std::byte*>(holder->data());
    DeviceMemory* device = holder.get();
    return std::move(host).moved_to_device(std::move(holder), device, memory, bytes);
  }
  // The callback owns the slot (and its arena's registrations) until the copy
  // has landed; the registrations go first, while the arena is still mapped.
  std::future<cuda::DeviceBatch> ticket =
      s.copier->submit(host.memory(), bytes, [slot = host.owner(), regs = s.registrations]() mutable {
        regs.reset();
        slot.reset();
      });
  auto holder = std::make_shared<DeviceHolder>(ticket.get(), s.device);
  auto* memory = static_cast<std::byte*>(holder->data());
  DeviceMemory* device = holder.get();
  return std::move(host).moved_to_device(std::move(holder), device, memory, bytes);
}

std::string DeviceStage::describe() const {
  const Impl& s = *impl_;
  std::string pinned =
      !s.pin_problem.empty() ? "worker arenas NOT page-locked (" + s.pin_problem + ")" : "worker arenas page-locked";
  if (s.device < 0)
    return "pin_memory=" + to_string(s.pin) + ": " + pinned + " (" + s.gpu + ")" +
           (s.pageable_batches
                ? ", " + std::to_string(s.pageable_batches) + " batches from one-off segments not page-locked"
                : std::string());
  return "device=" + std::to_string(s.device) + " (" + s.gpu + "): " + pinned + ", copies on a dedicated stream into " +
         std::to_string(s.copier_options().buffers) + " device buffers of " +
         workers::format_bytes(double(s.slot_bytes)) +
         (s.one_off_copies ? ", " + std::to_string(s.one_off_copies) + " larger batches in one-off device buffers"
                           : std::string());
}

int64_t DeviceStage::pageable_batches() const { return impl_->pageable_batches; }

std::string gpu_unavailable_reason() {
  const cuda::DeviceStatus status = probe_gpu();
  return status.available ? std::string() : status.reason;
}

#else  // no CUDA stage: validate() has refused device >= 0 and pin_memory=on.

struct DeviceStage::Impl {};

std::unique_ptr<DeviceStage> DeviceStage::create(const LoaderOptions& options, const EngineConfig&, std::string& note) {
  note.clear();
  if (options.device >= 0 || options.pin_memory == PinMemory::kOn)
    throw InvalidOption(
        "ferry: options device and pin_memory=on need the CUDA stage, but this ferry was built "
        "without it");
  if (options.pin_memory == PinMemory::kAuto)
    note = "pin_memory=auto: off (this ferry was built without the CUDA stage)";
  return nullptr;
}

DeviceStage::DeviceStage(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DeviceStage::~DeviceStage() = default;
void DeviceStage::attach(const std::vector<std::span<std::byte>>&) {}
void DeviceStage::detach() noexcept {}
Batch DeviceStage::deliver(Batch host) { return host; }
std::string DeviceStage::describe() const { return {}; }
int64_t DeviceStage::pageable_batches() const { return 0; }
std::string gpu_unavailable_reason() { return "this ferry was built without the CUDA stage"; }

#endif

}  // namespace ferry::detail
