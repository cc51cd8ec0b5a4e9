#pragma once
/// LoaderOptions: every knob of a DataLoader, with PyTorch's names where the
/// meaning is the same. validate() rejects bad values naming the option and
/// its allowed range; the DataLoader calls it at construction.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "loader/sampler.h"
#include "workers/fork_hooks.h"

namespace ferry {

/// How worker processes are started.
enum class StartMethod : uint8_t {
  kAuto,  ///< fork while the process is single-threaded, else spawn
  kFork,  ///< fork: fast; only safe while no other thread runs
  kSpawn  ///< exec the ferry-worker executable and rebuild the pipeline there
};

/// What happens to a sample whose data is unusable (ferry::BadSample).
enum class OnBadSample : uint8_t {
  kError,      ///< the batch fails with the file path and the decoder's message
  kSkip,       ///< replaced by the next good sample in dataset order; counted
  kSubstitute  ///< all of its fields are zeroed; counted
};

/// What happens when a worker process dies.
enum class OnWorkerFailure : uint8_t {
  kError,   ///< the consumer gets WorkerCrashed
  kRespawn  ///< a new worker takes over and re-runs its batches
};

/// How batch memory is shared with worker processes.
enum class Sharing : uint8_t {
  kFileDescriptor,  ///< memfd + fd passing: nothing can leak, even on SIGKILL (default)
  kFileSystem       ///< named /dev/shm segments, unlinked once mapped; for hosts that limit open fds
};

/// Whether the worker arenas (every batch slot) are page-locked with the CUDA
/// driver, so host-to-device copies of batches run as one DMA transfer.
enum class PinMemory : uint8_t {
  kOff,  ///< ordinary shared memory (default)
  kOn,   ///< page-locked; refused (InvalidOption) without a CUDA build or a usable GPU
  kAuto  ///< page-locked when a GPU is usable, else quietly off (describe() says why)
};

struct LoaderOptions {
  int64_t batch_size = 1;                ///< samples per batch, >= 1
  bool shuffle = false;                  ///< RandomSampler(seed) when no sampler is given
  uint64_t seed = 0;                     ///< base of every random choice (order, augmentation)
  bool drop_last = false;                ///< drop a last incomplete batch
  int num_workers = 0;                   ///< worker processes; 0 produces in the calling thread
  int prefetch_factor = 2;               ///< batches in flight per worker, >= 1
  bool persistent_workers = false;       ///< keep workers between epochs
  bool in_order = true;                  ///< yield in sampler order; false: as they complete
  std::chrono::milliseconds timeout{0};  ///< no-progress limit per worker; 0 = none
  int threads_per_worker = 1;            ///< threads filling one batch (oneTBB), 1..256
  OnBadSample on_bad_sample = OnBadSample::kError;
  OnWorkerFailure on_worker_failure = OnWorkerFailure::kError;
  int max_respawns = 3;  ///< per epoch, with kRespawn; then WorkerCrashed
  StartMethod start_method = StartMethod::kAuto;
  Sharing sharing = Sharing::kFileDescriptor;
  int slots_per_worker = 0;  ///< batch slots per worker; 0 = prefetch_factor + 1
  /// Spawn: the ferry-worker program. Empty: $FERRY_WORKER, then ferry-worker
  /// beside this executable, then the one in ferry's build tree.
  std::string worker_executable;
  /// Spawn: arguments given to worker_executable before ferry's own (e.g. a
  /// Python interpreter's `-c "import ferry; ferry._serve_worker()"`).
  std::vector<std::string> worker_args;
  /// Spawn: shared libraries each worker loads (dlopen) before rebuilding the
  /// dataset, so their static initializers can register_dataset() user kinds.
  std::vector<std::string> plugins;
  /// Runs in each worker process before its first sample, with the worker id
  /// and a seed derived from (seed, worker id).
  std::function<void(int worker_id, uint64_t worker_seed)> worker_init;
  /// Overrides shuffle. Must be safe to call from the consumer thread.
  std::shared_ptr<Sampler> sampler;
  /// Called when a wait for a batch is interrupted by a signal; may throw.
  std::function<void()> on_interrupt;
  /// Fork: called around each fork() of a worker (an embedding runtime's
  /// before/after-fork handlers); see workers/fork_hooks.h.
  workers::ForkHooks fork_hooks;
  /// CUDA device the batches go to; -1 keeps them on the host. With a device,
  /// the main process page-locks the worker arenas (whatever pin_memory says),
  /// copies each batch on a dedicated stream into a device buffer (same field
  /// offsets), releases the host slot once the copy has landed, and yields a
  /// Batch with device() == this value: wait_on() your stream or synchronize()
  /// before reading it. Refused (InvalidOption, with the reason) without a CUDA
  /// build or a usable GPU. Device memory: (prefetch_factor + 2) x slot bytes.
  int device = -1;
  /// Page-lock the worker arenas in the main process (for users who copy
  /// batches to a GPU themselves). See PinMemory.
  PinMemory pin_memory = PinMemory::kOff;

  /// Throws InvalidOption naming the option and the allowed range.
  void validate() const;
};

/// The names of each policy's values: "auto", "fork", "spawn"; "error",
/// "skip", "substitute"; "error", "respawn"; "file_descriptor",
/// "file_system"; "off", "on", "auto". One table per enum (options.cpp) serves
/// describe(), the Python module and ferry-bench.
std::string to_string(StartMethod m);
std::string to_string(OnBadSample p);
std::string to_string(OnWorkerFailure p);
std::string to_string(Sharing s);
std::string to_string(PinMemory p);

/// The value named `name`; throws InvalidOption naming `option` and the
/// names it takes. E is one of the enums above.
template <class E>
E parse_option(std::string_view option, std::string_view name);
/// The names `option` takes, in table order ("auto, fork, spawn").
template <class E>
std::vector<std::string> option_names();

/// options.sampler, or RandomSampler(seed) when shuffle, else SequentialSampler.
std::shared_ptr<Sampler> make_default_sampler(const LoaderOptions& options);

}  // namespace ferry
