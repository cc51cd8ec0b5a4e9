#pragma once
/// A pool of worker processes, each with its own arena of batch slots in
/// shared memory and its own channel. The main process submits tasks, waits
/// for completions (epoll on channels and pidfds; no busy waiting), and gets
/// each finished batch as BatchMemory pointing into shared memory: zero copies.
///
/// Memory is bounded up front: num_workers x slots_per_worker x slot_bytes.
/// When a worker has no free slot (the consumer holds them all) or a task's
/// output is larger than a slot, that one task uses a one-off segment passed
/// by fd: slower, never a failure or a deadlock.
///
/// Failures: a worker that dies raises WorkerCrashed (worker id, pid, signal)
/// from wait(); a worker that makes no progress for `timeout` raises Timeout.
/// Shutdown (the destructor) never hangs: Shutdown message, bounded wait,
/// SIGTERM, SIGKILL; it leaves no child, fd or segment behind.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/unique_fd.h"
#include "trace/trace.h"
#include "workers/channel.h"
#include "workers/fork_hooks.h"
#include "workers/producer.h"
#include "workers/shared_segment.h"

namespace ferry::workers {

/// How worker processes come to be.
enum class Launch : uint8_t {
  kFork,  ///< fork(): the worker is a copy of this process (Producer included)
  kSpawn  ///< posix_spawn(spawn_executable): a fresh process that rebuilds its
          ///< Producer from spawn_payload (see spawned_worker.h)
};

/// How batch memory is shared between processes.
enum class Sharing : uint8_t {
  kFileDescriptor,  ///< memfd segments whose fds travel by SCM_RIGHTS: nothing to leak
  kFileSystem       ///< named /dev/shm segments, unlinked once both sides map them
};

struct PoolOptions {
  int num_workers = 1;                              ///< worker processes, >= 1
  int prefetch_factor = 2;                          ///< tasks in flight per worker, >= 1
  int slots_per_worker = 3;                         ///< slots per arena, >= prefetch_factor
  size_t slot_bytes = 1 << 20;                      ///< bytes per slot (rounded up to a page)
  std::chrono::milliseconds timeout{0};             ///< no-progress limit per worker; 0 = none
  std::chrono::milliseconds start_timeout{60'000};  ///< limit for all workers to report ready
  std::chrono::milliseconds shutdown_grace{500};    ///< wait after Shutdown, and again after SIGTERM
  std::string name_prefix = "ferry-w";              ///< process names: ferry-w0, ferry-w1, ...
  /// Replace a worker that dies and re-run its tasks, instead of raising
  /// WorkerCrashed; at most max_respawns times until reset_respawn_budget().
  bool respawn = false;
  Launch launch = Launch::kFork;
  Sharing sharing = Sharing::kFileDescriptor;
  std::string spawn_executable;          ///< kSpawn: the worker program
  std::vector<std::string> spawn_args;   ///< kSpawn: its arguments before ferry's own
  std::vector<std::byte> spawn_payload;  ///< kSpawn: given to its ProducerFactory
  int max_respawns = 3;
  /// Called when a wait is interrupted by a signal (EINTR); may throw to
  /// abandon the wait (e.g. a Python binding checking for KeyboardInterrupt).
  std::function<void()> on_interrupt;
  ForkHooks fork_hooks;  ///< kFork: around each fork(), respawns included
};

namespace detail {
struct SlotTable;
}

/// One finished task's output. Dropping it returns the slot to its worker
/// (or unmaps the one-off segment). Thread-safe; may outlive the pool.
class BatchMemory {
 public:
  BatchMemory(std::shared_ptr<detail::SlotTable> table, int worker, int slot, std::byte* data, size_t size);
  BatchMemory(SharedSegment one_off);
  ~BatchMemory();
  BatchMemory(const BatchMemory&) = delete;
  BatchMemory& operator=(const BatchMemory&) = delete;

  std::byte* data() const { return data_; }
  size_t size() const { return size_; }
  bool is_one_off() const { return one_off_.has_value(); }

 private:
  std::shared_ptr<detail::SlotTable> table_;
  int worker_ = -1;
  int slot_ = -1;
  std::byte* data_ = nullptr;
  size_t size_ = 0;
  std::optional<SharedSegment> one_off_;
};

struct Completion {
  enum class Kind { kDone, kFailed };
  Kind kind = Kind::kDone;
  uint64_t task_id = 0;
  int worker_id = 0;
  std::shared_ptr<BatchMemory> memory;  ///< kDone: the output
  std::vector<std::byte> payload;       ///< kDone: the producer's description
  int64_t failed_item = -1;             ///< kFailed: the item, -1 if not known
  std::string message;                  ///< kFailed: what went wrong
  uint64_t latency_ns = 0;              ///< submit -> completion arrival
};

struct PoolStats {
  uint64_t start_ns = 0;             ///< fork of the first worker -> all ready
  uint64_t one_off_segments = 0;     ///< tasks that did not use a regular slot
  trace::StageTotals worker_totals;  ///< stage time summed over workers
  uint64_t respawns = 0;             ///< workers replaced after dying
  uint64_t worker_busy_ns = 0;       ///< summed over workers: time with at least one task in flight
};

class WorkerPool {
 public:
  /// Starts the workers (fork) and waits until each reports ready.
  WorkerPool(PoolOptions options, std::shared_ptr<Producer> producer);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  /// True when some worker can take another task (fewer than prefetch_factor).
  bool can_submit() const;
  /// Sends `task` to the least-loaded worker with capacity. Precondition: can_submit().
  void submit(Task task);
  /// Tasks submitted and not yet completed.
  int in_flight() const;

  /// The next completion, in arrival order. Throws WorkerCrashed or Timeout.
  /// Precondition: in_flight() > 0 or completions are already buffered.
  Completion wait();

  /// Allows max_respawns more respawns (the loader calls it each epoch).
  void reset_respawn_budget() { respawns_left_ = options_.max_respawns; }

  /// Stops all workers (idempotent, noexcept, bounded in time).
  void shutdown() noexcept;

  const PoolOptions& options() const { return options_; }
  std::vector<pid_t> pids() const;
  PoolStats stats() const;
  /// Total shared memory reserved for slots.
  size_t arena_bytes() const;
  /// Each worker's arena as mapped in this process (its slots, then a status
  /// page), e.g. to page-lock it with the CUDA driver. Valid while the pool or
  /// any batch of it lives; a respawned worker keeps its arena.
  std::vector<std::span<std::byte>> arenas() const;

 private:
  struct Worker;
  void start_worker(int id);
  pid_t fork_worker(int id, Channel worker_end, const Channel& main_end);
  pid_t spawn_worker(int id, Channel worker_end);
  void await_ready();
  void read_messages(Worker& w);
  void handle_message(Worker& w, std::span<const std::byte> message, UniqueFd fd);
  // Respawns the worker when allowed, otherwise throws WorkerCrashed.
  void handle_exit(Worker& w);
  void resubmit_in_flight(Worker& w);
  // The one encoding of a Task message; false if the worker is gone.
  static bool send_task(Channel& channel, const Task& task, int slot);
  void close_channel(Worker& w) noexcept;
  // Reads what a stopping worker still sends, unlinking named segments in it.
  void discard_pending(Worker& w) noexcept;
  void check_timeouts(uint64_t now);
  int epoll_timeout_ms(uint64_t now) const;

  PoolOptions options_;
  std::shared_ptr<Producer> producer_;
  std::shared_ptr<detail::SlotTable> slots_;
  std::vector<std::unique_ptr<Worker>> workers_;
  UniqueFd epoll_;
  std::deque<Completion> ready_;
  int in_flight_ = 0;
  bool shut_down_ = false;
  int respawns_left_ = 0;
  PoolStats stats_;
};

}  // namespace ferry::workers
