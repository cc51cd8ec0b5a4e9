#include "workers/worker_pool.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "base/error.h"
#include "workers/detail/fork_registry.h"
#include "workers/detail/messages.h"
#include "workers/detail/wire.h"
#include "workers/detail/worker_main.h"

extern char** environ;

namespace ferry::workers {

namespace detail {
// Which slots of each worker's arena the consumer does not hold. Shared with
// BatchMemory so a batch may outlive the pool (its mapping stays valid).
struct SlotTable {
  std::mutex mutex;
  std::vector<SharedSegment> arenas;
  std::vector<std::vector<int>> free;  // per worker, a stack of free slots
  size_t slot_bytes = 0;
};
}  // namespace detail

using detail::ByteReader;
using detail::ByteWriter;
using detail::MsgType;

struct WorkerPool::Worker {
  int id = 0;
  pid_t pid = -1;
  UniqueFd pidfd;
  Channel channel;
  bool ready = false;
  bool exited = false;
  struct InFlight {
    uint64_t submit_ns;
    int slot;   // -1: the worker makes a one-off segment
    Task task;  // kept to re-run it on a respawned worker
  };
  std::map<uint64_t, InFlight> in_flight;  // by task id
  uint64_t last_progress_ns = 0;
  uint64_t busy_since_ns = 0;
};

namespace {

// epoll data: worker index in the low bits, kind in bit 32.
constexpr uint64_t kPidfdTag = 1ull << 32;

void register_fd(int fd) { detail::register_parent_fd(fd); }

void unregister_and_reset(UniqueFd& fd) {
  if (fd.valid()) detail::unregister_parent_fd(fd.get());
  fd.reset();
}

std::string describe_exit(const siginfo_t& info) {
  if (info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED) {
    return "was killed by signal " + signal_name(info.si_status) + (info.si_code == CLD_DUMPED ? " (core dumped)" : "");
  }
  return "exited with status " + std::to_string(info.si_status);
}

}  // namespace

BatchMemory::BatchMemory(std::shared_ptr<detail::SlotTable> table, int worker, int slot, std::byte* data, size_t size)
    : table_(std::move(table)), worker_(worker), slot_(slot), data_(data), size_(size) {}

BatchMemory::BatchMemory(SharedSegment one_off) : one_off_(std::move(one_off)) {
  data_ = one_off_->data();
  size_ = one_off_->size();
}

BatchMemory::~BatchMemory() {
  if (table_) {
    std::lock_guard lock(table_->mutex);
    table_->free[static_cast<size_t>(worker_)].push_back(slot_);
  }
}

WorkerPool::WorkerPool(PoolOptions options, std::shared_ptr<Producer> producer)
    : options_(std::move(options)), producer_(std::move(producer)), slots_(std::make_shared<detail::SlotTable>()) {
  if (options_.num_workers < 1) throw InvalidOption("WorkerPool: num_workers must be >= 1");
  if (options_.prefetch_factor < 1) throw InvalidOption("WorkerPool: prefetch_factor must be >= 1");
  options_.slots_per_worker = std::max(options_.slots_per_worker, options_.prefetch_factor);
  options_.slot_bytes = round_up_to_page(std::max<size_t>(options_.slot_bytes, 1));
  slots_->slot_bytes = options_.slot_bytes;

  // Segments left by a ferry process that was SIGKILLed before unlinking.
  if (options_.sharing == Sharing::kFileSystem) reap_stale_named_segments();
  epoll_.reset(static_cast<int>(check_syscall(epoll_create1(EPOLL_CLOEXEC), "epoll_create1")));
  register_fd(epoll_.get());
  const uint64_t t0 = trace::now_ns();
  try {
    for (int i = 0; i < options_.num_workers; ++i) {
      const std::string purpose = "worker " + std::to_string(i) + "'s batch slots (" +
                                  std::to_string(options_.slots_per_worker) + " slots x " +
                                  format_bytes(double(options_.slot_bytes)) + ")";
      // One page past the slots holds the worker's status word.
      const size_t bytes = options_.slot_bytes * size_t(options_.slots_per_worker) + 4096;
      slots_->arenas.push_back(
          options_.sharing == Sharing::kFileSystem
              ? SharedSegment::create_named(segment_name("w" + std::to_string(i) + "-slots"), bytes, purpose)
              : SharedSegment::create(options_.name_prefix + std::to_string(i) + "-slots", bytes, purpose));
      register_fd(slots_->arenas.back().fd());
      std::vector<int> free;
      for (int s = options_.slots_per_worker - 1; s >= 0; --s) free.push_back(s);
      slots_->free.push_back(std::move(free));
    }
    for (int i = 0; i < options_.num_workers; ++i) start_worker(i);
    await_ready();
  } catch (...) {
    shutdown();
    throw;
  }
  stats_.start_ns = trace::now_ns() - t0;
  // Every worker has mapped its arena: the names can go.
  for (auto& arena : slots_->arenas) arena.unlink_name();
  // Forked workers hold their own mappings now and a respawn inherits ours,
  // so the fds can go; spawned workers receive the fd, so it stays.
  if (options_.launch == Launch::kSpawn) return;
  for (auto& arena : slots_->arenas) {
    detail::unregister_parent_fd(arena.fd());
    arena.close_fd();
  }
}

WorkerPool::~WorkerPool() { shutdown(); }

void WorkerPool::start_worker(int id) {
  auto w = std::make_unique<Worker>();
  w->id = id;
  if (size_t(id) < workers_.size()) {
    // A respawn keeps the tasks the dead process had.
    w->in_flight = std::move(workers_[size_t(id)]->in_flight);
    w->busy_since_ns = workers_[size_t(id)]->busy_since_ns;
  }
  auto [main_end, worker_end] = Channel::make_pair();
  *reinterpret_cast<int64_t*>(slots_->arenas[size_t(id)].data() +
                              options_.slot_bytes * size_t(options_.slots_per_worker)) = -1;
  const pid_t pid = options_.launch == Launch::kFork ? fork_worker(id, std::move(worker_end), main_end)
                                                     : spawn_worker(id, std::move(worker_end));
  w->pid = pid;
  w->channel = std::move(main_end);
  register_fd(w->channel.fd());
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    const int err = errno;
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    throw SystemError("pidfd_open(worker " + std::to_string(id) + ", pid " + std::to_string(pid) + ")", err);
  }
  if (options_.launch == Launch::kSpawn) {
    // The fresh process maps the arena from its fd and learns who it is.
    const SharedSegment& arena = slots_->arenas[size_t(id)];
    ByteWriter msg;
    msg.put(MsgType::kSetup);
    msg.put<int32_t>(id);
    msg.put<int32_t>(getpid());
    msg.put_string(options_.name_prefix + std::to_string(id));
    msg.put<uint64_t>(options_.slot_bytes);
    msg.put<int32_t>(options_.slots_per_worker);
    msg.put<uint64_t>(arena.size());
    msg.put<bool>(options_.sharing == Sharing::kFileSystem);
    msg.put<bool>(trace::recording());  // a forked worker inherits it; a spawned one is told
    msg.put_bytes(options_.spawn_payload);
    w->channel.send(msg.buffer(), arena.fd());  // a dead worker shows up on its pidfd
  }
  w->pidfd.reset(pidfd);
  register_fd(pidfd);

  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = static_cast<uint64_t>(id);
  check_syscall(epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, w->channel.fd(), &ev), "epoll_ctl(worker channel)");
  ev.data.u64 = static_cast<uint64_t>(id) | kPidfdTag;
  check_syscall(epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, pidfd, &ev), "epoll_ctl(worker pidfd)");
  if (size_t(id) < workers_.size())
    workers_[size_t(id)] = std::move(w);
  else
    workers_.push_back(std::move(w));
}

pid_t WorkerPool::fork_worker(int id, Channel worker_end, const Channel& main_end) {
  detail::WorkerSetup setup;
  setup.worker_id = id;
  setup.parent_pid = getpid();
  setup.name = options_.name_prefix + std::to_string(id);
  setup.arena = slots_->arenas[static_cast<size_t>(id)].data();
  setup.slot_bytes = options_.slot_bytes;
  setup.num_slots = options_.slots_per_worker;
  setup.status = reinterpret_cast<int64_t*>(setup.arena + options_.slot_bytes * size_t(options_.slots_per_worker));
  setup.named_segments = options_.sharing == Sharing::kFileSystem;
  setup.fds_to_close = detail::registered_parent_fds();
  setup.fds_to_close.push_back(main_end.fd());

  std::fflush(nullptr);  // or buffered output would be written twice
  const ForkHooks& hooks = options_.fork_hooks;
  if (hooks.before) hooks.before();
  const pid_t pid = fork();
  const int fork_errno = errno;
  if (pid != 0 && hooks.after_parent) hooks.after_parent();
  if (pid < 0) throw SystemError("fork(worker " + std::to_string(id) + ")", fork_errno);
  if (pid == 0) {
    // The child: never returns, never unwinds into the parent's code.
    try {
      if (hooks.after_child) hooks.after_child();
      detail::run_worker(setup, std::move(worker_end), *producer_);
    } catch (...) {
    }
    _exit(4);
  }
  return pid;
}

pid_t WorkerPool::spawn_worker(int id, Channel worker_end) {
  if (options_.spawn_executable.empty())
    throw InvalidOption("ferry: the spawn start method needs the worker executable (ferry-worker); none was found");
  // fd 3 in the child is its channel; every other fd of ours is close-on-exec.
  UniqueFd moved(fcntl(worker_end.fd(), F_DUPFD_CLOEXEC, 10));
  if (!moved.valid()) throw SystemError("fcntl(F_DUPFD_CLOEXEC)", errno);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, moved.get(), 3);
  std::string fd_arg = "--ferry-worker-fd=3";
  std::string name_arg = "--ferry-worker-name=" + options_.name_prefix + std::to_string(id);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(options_.spawn_executable.c_str()));
  for (const std::string& a : options_.spawn_args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(fd_arg.data());
  argv.push_back(name_arg.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int err = posix_spawn(&pid, options_.spawn_executable.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) {
    throw SystemError("posix_spawn(" + options_.spawn_executable + ") for worker " + std::to_string(id) +
                          "; check that the ferry-worker executable exists and is executable (LoaderOptions::"
                          "worker_executable or FERRY_WORKER)",
                      err);
  }
  return pid;
}

void WorkerPool::await_ready() {
  const uint64_t deadline = trace::now_ns() + uint64_t(options_.start_timeout.count()) * 1'000'000ull;
  auto all_ready = [&] {
    return std::all_of(workers_.begin(), workers_.end(), [](const auto& w) { return w->ready; });
  };
  while (!all_ready()) {
    const uint64_t now = trace::now_ns();
    if (now >= deadline) {
      throw Timeout("ferry: workers did not start within " + std::to_string(options_.start_timeout.count()) +
                    " ms; a dataset's open_in_worker or worker_init hook may be stuck");
    }
    epoll_event events[16];
    const int n = epoll_wait(epoll_.get(), events, 16, static_cast<int>((deadline - now) / 1'000'000 + 1));
    if (n < 0) {
      if (errno != EINTR) throw SystemError("epoll_wait(worker start)", errno);
      if (options_.on_interrupt) options_.on_interrupt();  // Ctrl-C while workers start
      continue;
    }
    for (int i = 0; i < n; ++i) {
      Worker& w = *workers_[events[i].data.u64 & 0xffffffffu];
      if (events[i].data.u64 & kPidfdTag) {
        read_messages(w);  // a StartFailed message explains the exit best
        handle_exit(w);
        continue;
      }
      read_messages(w);
    }
  }
}

bool WorkerPool::can_submit() const {
  if (shut_down_) return false;
  return std::any_of(workers_.begin(), workers_.end(), [&](const auto& w) {
    return !w->exited && w->channel.valid() && static_cast<int>(w->in_flight.size()) < options_.prefetch_factor;
  });
}

int WorkerPool::in_flight() const { return in_flight_; }

void WorkerPool::submit(Task task) {
  // A worker with a free slot first, so that a consumer holding one batch at
  // a time never forces a one-off segment (the loader bounds outstanding work
  // to prefetch_factor per worker, and each arena has one slot more); then the
  // least loaded.
  Worker* best = nullptr;
  bool best_has_slot = false;
  int slot = -1;
  {
    std::lock_guard lock(slots_->mutex);
    for (auto& w : workers_) {
      if (w->exited || !w->channel.valid() || static_cast<int>(w->in_flight.size()) >= options_.prefetch_factor)
        continue;
      const bool has_slot = !slots_->free[static_cast<size_t>(w->id)].empty();
      if (!best || (has_slot && !best_has_slot) ||
          (has_slot == best_has_slot && w->in_flight.size() < best->in_flight.size())) {
        best = w.get();
        best_has_slot = has_slot;
      }
    }
    if (!best) throw Error("ferry: internal error: submit() without a worker that has capacity");
    auto& free = slots_->free[static_cast<size_t>(best->id)];
    if (!free.empty()) {
      slot = free.back();
      free.pop_back();
    }
  }
  // A send to a dead worker fails; its pidfd reports why on the next wait(),
  // and the task keeps its slot so a respawned worker re-runs it there.
  send_task(best->channel, task, slot);
  const uint64_t now = trace::now_ns();
  if (best->in_flight.empty()) {
    best->busy_since_ns = now;
    best->last_progress_ns = now;
  }
  best->in_flight.emplace(task.id, Worker::InFlight{now, slot, std::move(task)});
  ++in_flight_;
}

Completion WorkerPool::wait() {
  while (ready_.empty()) {
    if (shut_down_) throw Error("ferry: wait() on a pool that was shut down");
    const uint64_t now = trace::now_ns();
    check_timeouts(now);
    epoll_event events[16];
    const int n = epoll_wait(epoll_.get(), events, 16, epoll_timeout_ms(now));
    if (n < 0) {
      if (errno != EINTR) throw SystemError("epoll_wait(workers)", errno);
      if (options_.on_interrupt) options_.on_interrupt();
      continue;
    }
    for (int i = 0; i < n; ++i) {
      Worker& w = *workers_[events[i].data.u64 & 0xffffffffu];
      if (events[i].data.u64 & kPidfdTag) {
        // Results it sent before dying are still valid and come first.
        read_messages(w);
        if (!ready_.empty()) break;
        handle_exit(w);
        break;  // the worker table changed
      }
      read_messages(w);
    }
  }
  Completion c = std::move(ready_.front());
  ready_.pop_front();
  return c;
}

void WorkerPool::read_messages(Worker& w) {
  std::vector<std::byte> buffer;
  for (;;) {
    if (w.exited || !w.channel.valid()) return;
    UniqueFd fd;
    bool would_block = false;
    if (!w.channel.receive(buffer, &fd, /*nonblocking=*/true, &would_block)) {
      if (would_block) return;
      // EOF: the worker is gone; its pidfd says how.
      epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, w.channel.fd(), nullptr);
      detail::unregister_parent_fd(w.channel.fd());
      w.channel.close();
      return;
    }
    handle_message(w, buffer, std::move(fd));
  }
}

void WorkerPool::handle_message(Worker& w, std::span<const std::byte> message, UniqueFd fd) {
  ByteReader r(message);
  const auto type = r.get<MsgType>();
  switch (type) {
    case MsgType::kReady:
      w.ready = true;
      return;
    case MsgType::kStartFailed:
      throw Error("ferry: worker " + std::to_string(w.id) + " (pid " + std::to_string(w.pid) +
                  ") failed to start: " + r.get_string());
    case MsgType::kDone:
    case MsgType::kFailed: {
      Completion c;
      c.task_id = r.get<uint64_t>();
      c.worker_id = w.id;
      if (type == MsgType::kDone) {
        c.kind = Completion::Kind::kDone;
        const int32_t slot = r.get<int32_t>();
        const uint64_t bytes = r.get<uint64_t>();
        const std::string name = r.get_string();
        auto payload = r.get_bytes();
        c.payload.assign(payload.begin(), payload.end());
        if (slot >= 0) {
          std::byte* base = slots_->arenas[static_cast<size_t>(w.id)].data();
          c.memory = std::make_shared<BatchMemory>(slots_, w.id, slot, base + size_t(slot) * options_.slot_bytes,
                                                   options_.slot_bytes);
        } else {
          SharedSegment seg;
          if (!name.empty()) {
            seg = SharedSegment::open_named(name, bytes);
            seg.unlink_name();  // both sides have it mapped now
          } else {
            if (!fd.valid()) throw Error("ferry: worker " + std::to_string(w.id) + " sent a one-off batch without fd");
            seg = SharedSegment::map(std::move(fd), bytes);
          }
          seg.close_fd();
          c.memory = std::make_shared<BatchMemory>(std::move(seg));
          ++stats_.one_off_segments;
        }
      } else {
        c.kind = Completion::Kind::kFailed;
        c.failed_item = r.get<int64_t>();
        c.message = r.get_string();
      }
      stats_.worker_totals += r.get<trace::StageTotals>();
      const auto events = r.get_vector<trace::Event>();
      if (!events.empty()) trace::add_events(events);

      const uint64_t now = trace::now_ns();
      auto it = w.in_flight.find(c.task_id);
      if (it != w.in_flight.end()) {
        c.latency_ns = now - it->second.submit_ns;
        // A slot given with the task but left unused (failure, or output
        // larger than a slot) is free again; a used one returns with its batch.
        const bool slot_used = c.memory && !c.memory->is_one_off();
        if (it->second.slot >= 0 && !slot_used) {
          std::lock_guard lock(slots_->mutex);
          slots_->free[static_cast<size_t>(w.id)].push_back(it->second.slot);
        }
        w.in_flight.erase(it);
        --in_flight_;
      }
      w.last_progress_ns = now;
      if (w.in_flight.empty()) stats_.worker_busy_ns += now - w.busy_since_ns;
      ready_.push_back(std::move(c));
      return;
    }
    default:
      throw Error("ferry: worker " + std::to_string(w.id) + " sent an unknown message");
  }
}

void WorkerPool::handle_exit(Worker& w) {
  siginfo_t info{};
  // The pidfd is readable: the process has exited, so this does not block.
  if (waitid(P_PIDFD, static_cast<id_t>(w.pidfd.get()), &info, WEXITED) != 0) {
    info.si_code = CLD_EXITED;
    info.si_status = -1;
  }
  w.exited = true;
  epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, w.pidfd.get(), nullptr);
  unregister_and_reset(w.pidfd);
  if (w.channel.valid()) {
    epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, w.channel.fd(), nullptr);
    detail::unregister_parent_fd(w.channel.fd());
    w.channel.close();
  }
  const int64_t last_item = *reinterpret_cast<const int64_t*>(slots_->arenas[size_t(w.id)].data() +
                                                              options_.slot_bytes * size_t(options_.slots_per_worker));
  std::string doing = "while idle";
  if (!w.in_flight.empty()) {
    doing = "while producing task " + std::to_string(w.in_flight.begin()->first);
    if (last_item >= 0) doing += " (last item started: " + std::to_string(last_item) + ")";
    if (w.in_flight.size() > 1) doing += " with " + std::to_string(w.in_flight.size() - 1) + " more queued";
  }
  const bool signaled = info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED;
  const std::string what = "ferry: worker " + std::to_string(w.id) + " (pid " + std::to_string(w.pid) + ") " +
                           describe_exit(info) + " " + doing;
  if (options_.respawn && w.ready && respawns_left_ > 0 && !shut_down_) {
    --respawns_left_;
    ++stats_.respawns;
    std::fprintf(stderr, "%s; respawning it (%d respawns left this epoch)\n", what.c_str(), respawns_left_);
    const int id = w.id;
    start_worker(id);  // replaces `w`
    await_ready();
    resubmit_in_flight(*workers_[size_t(id)]);
    return;
  }
  std::string advice =
      ". If the out-of-memory killer did it, `dmesg` says so; lower num_workers or batch_size."
      " A crash inside dataset code can be debugged with num_workers=0.";
  if (options_.respawn) {
    advice = ". Respawned " + std::to_string(options_.max_respawns) +
             " times this epoch already (max_respawns=" + std::to_string(options_.max_respawns) + ")" +
             (last_item >= 0 ? "; item " + std::to_string(last_item) + " keeps killing workers" : std::string()) +
             advice;
  }
  throw WorkerCrashed(what + advice, w.id, w.pid, signaled ? info.si_status : 0);
}

void WorkerPool::resubmit_in_flight(Worker& w) {
  const uint64_t now = trace::now_ns();
  w.last_progress_ns = now;
  for (auto& [id, f] : w.in_flight) {
    f.submit_ns = now;
    if (!send_task(w.channel, f.task, f.slot)) return;  // died again; its pidfd reports it
  }
}

bool WorkerPool::send_task(Channel& channel, const Task& task, int slot) {
  ByteWriter msg;
  msg.put(MsgType::kTask);
  msg.put(task.id);
  msg.put(task.epoch);
  msg.put<int32_t>(slot);
  msg.put_vector<int64_t>(task.items);
  return channel.send(msg.buffer());
}

void WorkerPool::close_channel(Worker& w) noexcept {
  if (!w.channel.valid()) return;
  if (epoll_.valid()) epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, w.channel.fd(), nullptr);
  detail::unregister_parent_fd(w.channel.fd());
  w.channel.close();
}

void WorkerPool::discard_pending(Worker& w) noexcept {
  std::vector<std::byte> buffer;
  try {
    while (w.channel.valid()) {
      UniqueFd fd;  // a passed one-off segment closes with it
      bool would_block = false;
      if (!w.channel.receive(buffer, &fd, /*nonblocking=*/true, &would_block)) {
        if (!would_block) close_channel(w);
        return;
      }
      ByteReader r(buffer);
      if (r.get<MsgType>() != MsgType::kDone) continue;
      r.get<uint64_t>();  // task
      r.get<int32_t>();   // slot
      r.get<uint64_t>();  // bytes
      const std::string name = r.get_string();
      if (!name.empty()) shm_unlink(("/" + name).c_str());
    }
  } catch (...) {
    close_channel(w);
  }
}

void WorkerPool::check_timeouts(uint64_t now) {
  if (options_.timeout.count() <= 0) return;
  const uint64_t limit = uint64_t(options_.timeout.count()) * 1'000'000ull;
  for (auto& w : workers_) {
    if (w->exited || w->in_flight.empty()) continue;
    if (now - w->last_progress_ns < limit) continue;
    char waited[32];
    std::snprintf(waited, sizeof waited, "%.1f s", double(now - w->last_progress_ns) / 1e9);
    throw Timeout("ferry: worker " + std::to_string(w->id) + " (pid " + std::to_string(w->pid) +
                  ") made no progress on task " + std::to_string(w->in_flight.begin()->first) + " for " + waited +
                  " (timeout " + std::to_string(options_.timeout.count()) +
                  " ms). A sample may be stuck reading storage; raise `timeout` if samples are legitimately slow.");
  }
}

int WorkerPool::epoll_timeout_ms(uint64_t now) const {
  if (options_.timeout.count() <= 0) return -1;
  const uint64_t limit = uint64_t(options_.timeout.count()) * 1'000'000ull;
  uint64_t earliest = UINT64_MAX;
  for (const auto& w : workers_) {
    if (!w->exited && !w->in_flight.empty()) earliest = std::min(earliest, w->last_progress_ns + limit);
  }
  if (earliest == UINT64_MAX) return static_cast<int>(options_.timeout.count());
  if (earliest <= now) return 0;
  return static_cast<int>((earliest - now) / 1'000'000 + 1);
}

void WorkerPool::shutdown() noexcept {
  if (shut_down_) return;
  shut_down_ = true;
  // 1. Ask politely. With fds, close our ends too: a worker blocked sending a
  //    result gets EPIPE. Named segments must be unlinked by whoever holds the
  //    last reference, so then we keep reading (and unlinking) until it exits.
  const bool named = options_.sharing == Sharing::kFileSystem;
  for (auto& w : workers_) {
    if (!w->channel.valid()) continue;
    ByteWriter msg;
    msg.put(MsgType::kShutdown);
    // A full socket means the worker is not reading; EOF or a signal reaches it.
    send(w->channel.fd(), msg.buffer().data(), msg.buffer().size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (!named) close_channel(*w);
  }
  // 2. Wait for exits with a deadline, then SIGTERM, then SIGKILL.
  auto wait_all = [&](std::chrono::milliseconds grace) {
    const uint64_t deadline = trace::now_ns() + uint64_t(grace.count()) * 1'000'000ull;
    for (;;) {
      std::vector<pollfd> fds;
      for (auto& w : workers_)
        if (w->pidfd.valid()) fds.push_back({w->pidfd.get(), POLLIN, 0});
      if (fds.empty()) return;
      for (auto& w : workers_)
        if (w->channel.valid()) fds.push_back({w->channel.fd(), POLLIN, 0});
      const uint64_t now = trace::now_ns();
      if (now >= deadline) return;
      const int n = poll(fds.data(), fds.size(), static_cast<int>((deadline - now) / 1'000'000 + 1));
      if (n <= 0) continue;
      for (auto& w : workers_) discard_pending(*w);
      for (auto& w : workers_) {
        if (!w->pidfd.valid()) continue;
        siginfo_t info{};
        info.si_pid = 0;
        if (waitid(P_PIDFD, static_cast<id_t>(w->pidfd.get()), &info, WEXITED | WNOHANG) == 0 && info.si_pid != 0) {
          unregister_and_reset(w->pidfd);
        }
      }
    }
  };
  wait_all(options_.shutdown_grace);
  for (auto& w : workers_)
    if (w->pidfd.valid()) syscall(SYS_pidfd_send_signal, w->pidfd.get(), SIGTERM, nullptr, 0);
  wait_all(options_.shutdown_grace);
  for (auto& w : workers_) {
    if (!w->pidfd.valid()) continue;
    syscall(SYS_pidfd_send_signal, w->pidfd.get(), SIGKILL, nullptr, 0);
    siginfo_t info{};
    waitid(P_PIDFD, static_cast<id_t>(w->pidfd.get()), &info, WEXITED);  // SIGKILL cannot be ignored
    unregister_and_reset(w->pidfd);
  }
  for (auto& w : workers_) {
    discard_pending(*w);
    close_channel(*w);
  }
  // Segments our killed workers created but never sent.
  if (named) reap_stale_named_segments();
  // Reap children whose pidfd was never opened (a failed start).
  for (auto& w : workers_) {
    if (w->pid > 0 && !w->exited) {
      int status;
      waitpid(w->pid, &status, WNOHANG);
    }
    w->exited = true;
  }
  in_flight_ = 0;
  ready_.clear();
  unregister_and_reset(epoll_);
  for (auto& arena : slots_->arenas) {
    arena.unlink_name();  // a start that failed before the names went
    if (arena.fd() >= 0) {
      detail::unregister_parent_fd(arena.fd());
      arena.close_fd();
    }
  }
}

std::vector<pid_t> WorkerPool::pids() const {
  std::vector<pid_t> out;
  for (const auto& w : workers_) out.push_back(w->pid);
  return out;
}

PoolStats WorkerPool::stats() const {
  PoolStats s = stats_;
  const uint64_t now = trace::now_ns();
  for (const auto& w : workers_)
    if (!w->in_flight.empty()) s.worker_busy_ns += now - w->busy_since_ns;
  return s;
}

std::vector<std::span<std::byte>> WorkerPool::arenas() const {
  std::vector<std::span<std::byte>> out;
  for (const auto& arena : slots_->arenas) out.emplace_back(arena.data(), arena.size());
  return out;
}

size_t WorkerPool::arena_bytes() const {
  return options_.slot_bytes * size_t(options_.slots_per_worker) * size_t(options_.num_workers);
}

}  // namespace ferry::workers
