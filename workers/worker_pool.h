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
/// The main side is one event loop over explicit worker states (WorkerState).
/// It handles one event at a time and never waits inside a handler: several
/// workers dying at once are handled in turn, a respawned worker's Ready is an
/// event like any other, and an event of a replaced process (an older
/// generation) is recognised and dropped.
///
/// Failures: a worker that dies raises WorkerCrashed (worker id, pid, signal,
/// the items it was producing) from wait(), unless `respawn` replaces it; a
/// worker that makes no progress for `timeout` raises Timeout. After either,
/// the pool is broken: it accepts no more tasks and the owner shuts it down.
/// Shutdown never hangs: Shutdown message, bounded wait, SIGTERM, SIGKILL,
/// each wait with a deadline; it leaves no child, fd or segment behind.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/byte_io.h"
#include "base/unique_fd.h"
#include "trace/trace.h"
#include "workers/channel.h"
#include "workers/fork_hooks.h"
#include "workers/producer.h"
#include "workers/shared_segment.h"

namespace ferry::workers {

/// How a worker process comes to be.
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

/// Where one worker (a place in the pool, whatever process fills it) is.
enum class WorkerState : uint8_t {
  kStarting,  ///< its process runs, its Ready has not arrived (a respawned one
              ///< holds the dead one's tasks and is sent them on Ready)
  kReady,     ///< serving, no task in flight
  kBusy,      ///< serving, tasks in flight
  kDraining,  ///< told to stop; what it still sends is read and dropped
  kExited,    ///< its process is gone and not replaced
};
std::string_view to_string(WorkerState s);

/// What kSpawn runs: `executable args... --ferry-worker-fd=3 --ferry-worker-name=N`.
struct SpawnCommand {
  std::string executable;          ///< the worker program
  std::vector<std::string> args;   ///< its arguments before ferry's own
  std::vector<std::byte> payload;  ///< given to its ProducerFactory
};

struct PoolOptions {
  int num_workers = 1;                              ///< worker processes, >= 1
  int prefetch_factor = 2;                          ///< tasks in flight per worker, >= 1
  int slots_per_worker = 3;                         ///< slots per arena, >= prefetch_factor
  size_t slot_bytes = 1 << 20;                      ///< bytes per slot, a multiple of 4096
  std::chrono::milliseconds timeout{0};             ///< no-progress limit per worker; 0 = none
  std::chrono::milliseconds start_timeout{60'000};  ///< limit for a worker to report ready
  std::chrono::milliseconds shutdown_grace{500};    ///< each of the three waits of shutdown
  std::string name_prefix = "ferry-w";              ///< process names: ferry-w0, ferry-w1, ...
  /// Replace a worker that dies and re-run its tasks, instead of raising
  /// WorkerCrashed; at most max_respawns times until reset_respawn_budget().
  bool respawn = false;
  int max_respawns = 3;
  Launch launch = Launch::kFork;
  SpawnCommand spawn;  ///< kSpawn
  /// When set, asked before every start of a worker (respawns included) and
  /// used instead of `launch`; it fills `spawn` when it chooses kSpawn, and
  /// may throw to refuse (e.g. fork is unsafe now).
  std::function<Launch(SpawnCommand& spawn)> choose_launch;
  Sharing sharing = Sharing::kFileDescriptor;
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
  enum class Kind {
    kDone,    ///< `memory` (null for an empty output) and `payload` hold the output
    kFailed,  ///< the producer threw: `failed_item` (or -1) and `message`
    kLost     ///< produced, but this process could not take it (`message` says why)
  };
  Kind kind = Kind::kDone;
  uint64_t task_id = 0;
  int worker_id = 0;
  std::shared_ptr<BatchMemory> memory;
  std::vector<std::byte> payload;
  int64_t failed_item = -1;
  std::string message;
  uint64_t latency_ns = 0;  ///< submit -> completion arrival
};

struct PoolStats {
  uint64_t start_ns = 0;             ///< start of the first worker -> all ready
  uint64_t one_off_segments = 0;     ///< tasks that did not use a regular slot
  trace::StageTotals worker_totals;  ///< stage time summed over workers
  uint64_t respawns = 0;             ///< workers replaced after dying
  uint64_t worker_busy_ns = 0;       ///< summed over workers: time with at least one task in flight
  uint64_t messages = 0;             ///< received from workers
  uint64_t wakeups = 0;              ///< returns from epoll/poll: with no busy waiting, about messages + exits
  PoolStats& operator+=(const PoolStats& o);
};

class WorkerPool {
 public:
  /// Starts the workers and waits until each reports ready (start_timeout).
  WorkerPool(PoolOptions options, std::shared_ptr<Producer> producer);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  /// True when some serving worker can take another task (fewer than
  /// prefetch_factor in flight) and the pool is neither broken nor shut down.
  bool can_submit() const;
  /// The same for one worker: it serves (or is starting: its tasks wait for
  /// its Ready) and has capacity.
  bool can_submit_to(int worker) const;
  /// Sends `task` to task.worker, or (-1) to a worker with capacity,
  /// preferring one with a free slot, then the least loaded. Precondition:
  /// can_submit(), or can_submit_to(task.worker).
  void submit(Task task);
  /// True once a failure (a death without respawn, a timeout, a failed
  /// respawn, an interrupt) stopped the pool from working; then shut it down.
  bool broken() const { return !broken_.empty(); }
  /// Tasks submitted whose completion wait() has not returned yet.
  int in_flight() const { return in_flight_ + int(ready_.size()); }

  /// The next completion, in arrival order. Throws WorkerCrashed, Timeout, or
  /// another ferry::Error (a failed respawn); the pool is broken after that.
  /// Precondition: in_flight() > 0 or completions are already buffered.
  Completion wait();

  /// Allows max_respawns more respawns (the loader calls it each epoch).
  void reset_respawn_budget() { respawns_left_ = options_.max_respawns; }

  /// Stops all workers (idempotent, noexcept, bounded in time).
  void shutdown() noexcept;

  const PoolOptions& options() const { return options_; }
  std::vector<pid_t> pids() const;
  std::vector<WorkerState> states() const;
  PoolStats stats() const;
  /// Total shared memory reserved for slots.
  size_t arena_bytes() const;
  /// Each worker's arena as mapped in this process (its slots, then a status
  /// page), e.g. to page-lock it with the CUDA driver. Valid while the pool or
  /// any batch of it lives; a respawned worker keeps its arena.
  std::vector<std::span<std::byte>> arenas() const;

 private:
  struct Worker;
  struct InFlight;
  struct Event {
    enum class Kind : uint8_t { kReadable, kExited };
    Kind kind;
    int worker;
    uint32_t generation;
  };

  void start_process(Worker& w);
  pid_t fork_worker(Worker& w, Channel worker_end);
  pid_t spawn_worker(Worker& w, Channel worker_end);
  void send_setup(Worker& w);
  // One step of the event loop: handle a queued event, or wait (until
  // `deadline_ns` at most) for more.
  void pump(uint64_t deadline_ns);
  void handle(const Event& e);
  void on_readable(Worker& w);
  void on_exited(Worker& w);
  void on_message(Worker& w, Channel::Received& in);
  void on_result(Worker& w, Completion c, bool slot_used);
  void respawn(Worker& w, const std::string& what);
  std::string describe_doing(const Worker& w) const;
  void fault(Worker& w, const std::string& what) noexcept;
  void check_deadlines(uint64_t now);
  int poll_timeout_ms(uint64_t now, uint64_t deadline_ns) const;
  // Sends one task; false when the worker is gone (its pidfd reports it).
  static bool send_task(Worker& w, const Task& task, int slot, ByteWriter& out);
  void close_channel(Worker& w) noexcept;
  // Reads what a stopping worker still sends, unlinking named segments in it.
  void discard_pending(Worker& w) noexcept;
  void wait_for_exits(std::chrono::milliseconds grace) noexcept;
  void return_slot(int worker, int slot);

  PoolOptions options_;
  std::shared_ptr<Producer> producer_;
  std::shared_ptr<detail::SlotTable> slots_;
  std::vector<std::unique_ptr<Worker>> workers_;
  UniqueFd epoll_;
  std::deque<Event> events_;      // found, not yet handled (in arrival order)
  std::deque<Completion> ready_;  // handled, not yet returned by wait()
  ByteWriter out_;                // encodes every message this side sends
  int in_flight_ = 0;
  bool shut_down_ = false;
  std::string broken_;  // why the pool accepts no more work; empty while it does
  int respawns_left_ = 0;
  PoolStats stats_;
};

}  // namespace ferry::workers
