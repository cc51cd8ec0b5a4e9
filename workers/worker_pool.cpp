#include "workers/worker_pool.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <mutex>

#include "base/error.h"
#include "workers/detail/arena_layout.h"
#include "workers/detail/fork_registry.h"
#include "workers/detail/protocol.h"
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
  ArenaLayout layout;
};
}  // namespace detail

using detail::MsgType;

struct WorkerPool::InFlight {
  uint64_t submit_ns = 0;
  int slot = -1;  // -1: the worker makes a one-off segment
  Task task;      // kept to re-run it on a respawned worker
  // The items in production at every death while this task ran: one of
  // them is the culprit (several are in flight with threads_per_worker > 1).
  std::vector<int64_t> suspects;
  int deaths = 0;
};

struct WorkerPool::Worker {
  int id = 0;
  uint32_t generation = 0;  // +1 per process started in this place
  WorkerState state = WorkerState::kStarting;
  pid_t pid = -1;
  UniqueFd pidfd;
  Channel channel;
  bool served = false;              // this process reported Ready
  std::string start_error;          // what its StartFailed said
  std::string fault;                // why this side killed it (a malformed message)
  std::vector<InFlight> in_flight;  // in submission order
  uint64_t last_progress_ns = 0;
  uint64_t busy_since_ns = 0;
  uint64_t start_deadline_ns = 0;
};

namespace {

// epoll data: the worker in the low 32 bits, its generation above, and the
// kind of fd in the top bit.
constexpr uint64_t kExitTag = 1ull << 63;

uint64_t tag(bool exit_fd, int worker, uint32_t generation) {
  return (exit_fd ? kExitTag : 0) | (uint64_t(generation & 0x7fffffffu) << 32) | uint32_t(worker);
}

uint64_t ms_to_ns(std::chrono::milliseconds ms) { return uint64_t(ms.count()) * 1'000'000ull; }

void unregister_and_reset(UniqueFd& fd) noexcept {
  if (fd.valid()) detail::unregister_parent_fd(fd.get());
  fd.reset();
}

// Children that would not die within shutdown's bound (stuck in the kernel,
// state D): reaped whenever a pool starts or stops, so none stays a zombie.
std::mutex g_orphans_mutex;
std::vector<pid_t> g_orphans;

void reap_orphans() noexcept {
  std::lock_guard lock(g_orphans_mutex);
  std::erase_if(g_orphans, [](pid_t pid) { return waitpid(pid, nullptr, WNOHANG) != 0; });
}

// SIGKILLs a child whose start failed half-way and reaps it, waiting at most
// `grace`; one that is still there then is reaped later.
void kill_and_reap(pid_t pid, std::chrono::milliseconds grace) noexcept {
  kill(pid, SIGKILL);
  const uint64_t deadline = trace::now_ns() + ms_to_ns(grace);
  while (waitpid(pid, nullptr, WNOHANG) == 0) {
    if (trace::now_ns() >= deadline) {
      std::lock_guard lock(g_orphans_mutex);
      g_orphans.push_back(pid);
      return;
    }
    const timespec ms{0, 1'000'000};
    nanosleep(&ms, nullptr);
  }
}

struct ExitStatus {
  bool known = false;  // false: SIGCHLD is ignored here, the kernel reaped it
  bool signaled = false;
  int code = 0;  // the signal or the exit status
};

// The exit of a process whose pidfd is readable (so this does not block).
ExitStatus reap(const UniqueFd& pidfd) noexcept {
  siginfo_t info{};
  ExitStatus s;
  if (waitid(P_PIDFD, static_cast<id_t>(pidfd.get()), &info, WEXITED | WNOHANG) != 0 || info.si_pid == 0) return s;
  s.known = true;
  s.signaled = info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED;
  s.code = info.si_status;
  return s;
}

std::string describe(const ExitStatus& s) {
  if (!s.known) return "exited (its status is unknown: this process ignores SIGCHLD, so the kernel reaped it)";
  if (s.signaled) return "was killed by signal " + signal_name(s.code);
  std::string text = "exited with status " + std::to_string(s.code);
  if (s.code == detail::kExitProtocolError) text += " (it received a message it could not read)";
  if (s.code == detail::kExitSetupFailed) text += " (it could not map its batch slots)";
  return text;
}

std::string join(const std::vector<int64_t>& items) {
  std::string out;
  for (int64_t i : items) out += (out.empty() ? "" : ", ") + std::to_string(i);
  return out;
}

}  // namespace

std::string_view to_string(WorkerState s) {
  switch (s) {
    case WorkerState::kStarting:
      return "starting";
    case WorkerState::kReady:
      return "ready";
    case WorkerState::kBusy:
      return "busy";
    case WorkerState::kDraining:
      return "draining";
    case WorkerState::kExited:
      return "exited";
  }
  return "?";
}

PoolStats& PoolStats::operator+=(const PoolStats& o) {
  start_ns += o.start_ns;
  one_off_segments += o.one_off_segments;
  worker_totals += o.worker_totals;
  respawns += o.respawns;
  worker_busy_ns += o.worker_busy_ns;
  messages += o.messages;
  wakeups += o.wakeups;
  return *this;
}

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
  // The loader resolves these (loader/detail/engine_config.h); a direct user
  // gets the same rules as an error instead of a silent fix.
  if (options_.num_workers < 1 || options_.prefetch_factor < 1 ||
      options_.slots_per_worker < options_.prefetch_factor || options_.slot_bytes == 0 ||
      options_.slot_bytes % 4096 != 0)
    throw InvalidOption(
        "ferry: WorkerPool needs num_workers >= 1, prefetch_factor >= 1, slots_per_worker >= "
        "prefetch_factor and slot_bytes a positive multiple of 4096");
  slots_->layout = {options_.slot_bytes, options_.slots_per_worker};
  reap_orphans();
  // Segments left by a ferry process that was SIGKILLed before unlinking.
  if (options_.sharing == Sharing::kFileSystem) reap_stale_named_segments();
  epoll_.reset(static_cast<int>(check_syscall(epoll_create1(EPOLL_CLOEXEC), "epoll_create1")));
  detail::register_parent_fd(epoll_.get());
  const uint64_t t0 = trace::now_ns();
  try {
    const size_t bytes = slots_->layout.bytes();
    for (int i = 0; i < options_.num_workers; ++i) {
      const std::string purpose = "worker " + std::to_string(i) + "'s batch slots (" +
                                  std::to_string(options_.slots_per_worker) + " slots x " +
                                  format_bytes(double(options_.slot_bytes)) + ")";
      slots_->arenas.push_back(
          options_.sharing == Sharing::kFileSystem
              ? SharedSegment::create_named(segment_name("w" + std::to_string(i) + "-slots"), bytes, purpose)
              : SharedSegment::create(options_.name_prefix + std::to_string(i) + "-slots", bytes, purpose));
      detail::register_parent_fd(slots_->arenas.back().fd());
      std::vector<int> free;
      for (int s = options_.slots_per_worker - 1; s >= 0; --s) free.push_back(s);
      slots_->free.push_back(std::move(free));
      auto w = std::make_unique<Worker>();
      w->id = i;
      workers_.push_back(std::move(w));
    }
    for (auto& w : workers_) start_process(*w);
    auto starting = [&] {
      return std::any_of(workers_.begin(), workers_.end(),
                         [](const auto& w) { return w->state == WorkerState::kStarting; });
    };
    while (starting()) {
      check_deadlines(trace::now_ns());
      pump(UINT64_MAX);
    }
  } catch (...) {
    shutdown();
    throw;
  }
  stats_.start_ns = trace::now_ns() - t0;
  // Every worker has its arena: the names can go (the fds stay, for respawns).
  for (auto& arena : slots_->arenas) arena.unlink_name();
}

WorkerPool::~WorkerPool() { shutdown(); }

void WorkerPool::start_process(Worker& w) {
  ++w.generation;
  w.state = WorkerState::kStarting;
  w.served = false;
  w.start_error.clear();
  w.fault.clear();
  detail::reset_status(detail::status_in(slots_->arenas[size_t(w.id)].data(), slots_->layout));
  auto [main_end, worker_end] = Channel::make_pair();
  w.channel = std::move(main_end);
  detail::register_parent_fd(w.channel.fd());  // so that no other worker inherits it
  pid_t pid = -1;
  try {
    const Launch launch = options_.choose_launch ? options_.choose_launch(options_.spawn) : options_.launch;
    pid = launch == Launch::kFork ? fork_worker(w, std::move(worker_end)) : spawn_worker(w, std::move(worker_end));
    w.pid = pid;
    UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
    if (!pidfd.valid() && errno == ESRCH)  // gone and reaped already: SIGCHLD is ignored here
      throw Error("ferry: worker " + std::to_string(w.id) + " (pid " + std::to_string(pid) +
                  ") failed to start: it exited at once");
    if (!pidfd.valid())
      throw SystemError("pidfd_open(worker " + std::to_string(w.id) + ", pid " + std::to_string(pid) + ")", errno);
    detail::register_parent_fd(pidfd.get());
    w.pidfd = std::move(pidfd);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag(false, w.id, w.generation);
    check_syscall(epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, w.channel.fd(), &ev), "epoll_ctl(worker channel)");
    ev.data.u64 = tag(true, w.id, w.generation);
    check_syscall(epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, w.pidfd.get(), &ev), "epoll_ctl(worker pidfd)");
    if (launch == Launch::kSpawn) send_setup(w);
  } catch (...) {
    close_channel(w);
    if (w.pidfd.valid()) epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, w.pidfd.get(), nullptr);
    unregister_and_reset(w.pidfd);
    if (pid > 0) kill_and_reap(pid, options_.shutdown_grace);
    w.state = WorkerState::kExited;
    throw;
  }
  w.start_deadline_ns = trace::now_ns() + ms_to_ns(options_.start_timeout);
}

pid_t WorkerPool::fork_worker(Worker& w, Channel worker_end) {
  detail::WorkerSetup setup;
  setup.worker_id = w.id;
  setup.parent_pid = getpid();
  setup.name = options_.name_prefix + std::to_string(w.id);
  setup.layout = slots_->layout;
  setup.arena_fd = slots_->arenas[size_t(w.id)].fd();
  setup.named_segments = options_.sharing == Sharing::kFileSystem;
  setup.fds_to_close = detail::registered_parent_fds();  // taken now: the child must not lock

  std::fflush(nullptr);  // or buffered output would be written twice
  const ForkHooks& hooks = options_.fork_hooks;
  if (hooks.before) hooks.before();
  const pid_t pid = fork();
  const int fork_errno = errno;
  if (pid != 0 && hooks.after_parent) hooks.after_parent();
  if (pid < 0) throw SystemError("fork(worker " + std::to_string(w.id) + ")", fork_errno);
  if (pid == 0) {
    // The child: never returns, never unwinds into the parent's code, and
    // takes no lock another parent thread may have held at the fork.
    forget_run_token_after_fork();
    trace::reset_after_fork();
    try {
      if (hooks.after_child) hooks.after_child();
      detail::run_worker(std::move(setup), std::move(worker_end), *producer_);
    } catch (...) {
    }
    _exit(4);
  }
  return pid;
}

pid_t WorkerPool::spawn_worker(Worker& w, Channel worker_end) {
  if (options_.spawn.executable.empty())
    throw InvalidOption("ferry: the spawn start method needs the worker executable (ferry-worker); none was found");
  // fd 3 in the child is its channel; every other fd of ours is close-on-exec.
  UniqueFd moved(fcntl(worker_end.fd(), F_DUPFD_CLOEXEC, 10));
  if (!moved.valid()) throw SystemError("fcntl(F_DUPFD_CLOEXEC)", errno);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, moved.get(), 3);
  std::string fd_arg = "--ferry-worker-fd=3";
  std::string name_arg = "--ferry-worker-name=" + options_.name_prefix + std::to_string(w.id);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(options_.spawn.executable.c_str()));
  for (const std::string& a : options_.spawn.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(fd_arg.data());
  argv.push_back(name_arg.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int err = posix_spawn(&pid, options_.spawn.executable.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) {
    throw SystemError("posix_spawn(" + options_.spawn.executable + ") for worker " + std::to_string(w.id) +
                          "; check that the ferry-worker executable exists and is executable (LoaderOptions::"
                          "worker_executable or FERRY_WORKER)",
                      err);
  }
  return pid;
}

void WorkerPool::send_setup(Worker& w) {
  detail::SetupMsg msg;
  msg.worker_id = w.id;
  msg.parent_pid = getpid();
  msg.name = options_.name_prefix + std::to_string(w.id);
  msg.slot_bytes = slots_->layout.slot_bytes;
  msg.num_slots = slots_->layout.slots;
  msg.named_segments = options_.sharing == Sharing::kFileSystem;
  msg.trace_recording = trace::recording();
  msg.payload = options_.spawn.payload;
  // A worker that died already shows up on its pidfd.
  w.channel.send(detail::encode(msg, out_), slots_->arenas[size_t(w.id)].fd());
}

void WorkerPool::pump(uint64_t deadline_ns) {
  if (!events_.empty()) {
    const Event e = events_.front();
    events_.pop_front();
    handle(e);
    return;
  }
  epoll_event found[32];
  const int n = epoll_wait(epoll_.get(), found, 32, poll_timeout_ms(trace::now_ns(), deadline_ns));
  ++stats_.wakeups;
  if (n < 0) {
    if (errno != EINTR) throw SystemError("epoll_wait(workers)", errno);
    if (options_.on_interrupt) options_.on_interrupt();
    return;
  }
  for (int i = 0; i < n; ++i) {
    const uint64_t t = found[i].data.u64;
    events_.push_back({t & kExitTag ? Event::Kind::kExited : Event::Kind::kReadable, int(t & 0xffffffffu),
                       uint32_t((t >> 32) & 0x7fffffffu)});
  }
}

void WorkerPool::handle(const Event& e) {
  Worker& w = *workers_[size_t(e.worker)];
  // An event of a process this place no longer holds: it was replaced.
  if (e.generation != w.generation || w.state == WorkerState::kExited) return;
  if (e.kind == Event::Kind::kExited)
    on_exited(w);
  else
    on_readable(w);
}

void WorkerPool::on_readable(Worker& w) {
  while (w.channel.valid()) {
    Channel::Received in = w.channel.receive(/*nonblocking=*/true);
    switch (in.status) {
      case Channel::Received::Status::kWouldBlock:
        return;
      case Channel::Received::Status::kEof:
        close_channel(w);  // the pidfd says how it ended
        return;
      case Channel::Received::Status::kLost:
        fault(w, "sent a message the kernel dropped, because " + open_file_limit_text());
        return;
      case Channel::Received::Status::kMessage:
        try {
          on_message(w, in);
        } catch (const ProtocolError& e) {
          fault(w, std::string("sent a message this process could not read (") + e.what() + ")");
          return;
        }
    }
  }
}

void WorkerPool::on_message(Worker& w, Channel::Received& in) {
  ++stats_.messages;
  ByteReader r(in.message);
  const uint64_t now = trace::now_ns();
  switch (detail::read_type(r)) {
    case MsgType::kReady: {
      detail::decode<detail::ReadyMsg>(r);
      if (w.state != WorkerState::kStarting) throw ProtocolError("a second Ready");
      w.served = true;
      w.state = w.in_flight.empty() ? WorkerState::kReady : WorkerState::kBusy;
      // A respawned worker: the dead one's tasks, in their slots.
      w.last_progress_ns = now;
      for (InFlight& f : w.in_flight) {
        f.submit_ns = now;
        if (!send_task(w, f.task, f.slot, out_)) return;  // died again; its pidfd reports it
      }
      return;
    }
    case MsgType::kStartFailed:
      w.start_error = detail::decode<detail::StartFailedMsg>(r).message;  // it exits next
      return;
    case MsgType::kDone: {
      detail::DoneMsg m = detail::decode<detail::DoneMsg>(r);
      Completion c;
      c.task_id = m.task_id;
      c.worker_id = w.id;
      stats_.worker_totals += m.trace.totals;
      if (!m.trace.events.empty()) trace::add_events(m.trace.events);
      auto f = std::find_if(w.in_flight.begin(), w.in_flight.end(),
                            [&](const InFlight& x) { return x.task.id == m.task_id; });
      if (f == w.in_flight.end())
        throw ProtocolError("a result for task " + std::to_string(m.task_id) + " it was not given");
      if (m.slot >= 0) {
        if (m.slot != f->slot) throw ProtocolError("a result in slot " + std::to_string(m.slot) + ", not its own");
        std::byte* base = slots_->arenas[size_t(w.id)].data();
        c.memory = std::make_shared<BatchMemory>(slots_, w.id, m.slot, base + slots_->layout.slot_offset(m.slot),
                                                 slots_->layout.slot_bytes);
        c.payload = std::move(m.payload);
      } else if (m.one_off_bytes == 0 && m.one_off_name.empty() && !in.fd.valid()) {
        c.payload = std::move(m.payload);  // an empty output: no memory
      } else {
        ++stats_.one_off_segments;
        try {
          SharedSegment seg;
          if (!m.one_off_name.empty()) {
            try {
              seg = SharedSegment::open_named(m.one_off_name, m.one_off_bytes);
            } catch (...) {
              shm_unlink(("/" + m.one_off_name).c_str());  // nobody else will
              throw;
            }
            seg.unlink_name();  // both sides have it mapped now
          } else {
            if (in.fd_lost)
              throw Error("its one-off segment's fd was dropped by the kernel: " + open_file_limit_text());
            if (!in.fd.valid()) throw ProtocolError("a one-off batch without its fd");
            seg = SharedSegment::map(std::move(in.fd), m.one_off_bytes);
          }
          seg.close_fd();
          c.memory = std::make_shared<BatchMemory>(std::move(seg));
          c.payload = std::move(m.payload);
        } catch (const ProtocolError&) {
          throw;
        } catch (const std::exception& e) {
          c.kind = Completion::Kind::kLost;
          c.message = "ferry: worker " + std::to_string(w.id) + " produced task " + std::to_string(m.task_id) +
                      " into a one-off segment this process could not map: " + e.what();
        }
      }
      on_result(w, std::move(c), m.slot >= 0);
      return;
    }
    case MsgType::kFailed: {
      detail::FailedMsg m = detail::decode<detail::FailedMsg>(r);
      stats_.worker_totals += m.trace.totals;
      if (!m.trace.events.empty()) trace::add_events(m.trace.events);
      Completion c;
      c.kind = Completion::Kind::kFailed;
      c.task_id = m.task_id;
      c.worker_id = w.id;
      c.failed_item = m.item;
      c.message = std::move(m.message);
      on_result(w, std::move(c), false);
      return;
    }
    default:
      throw ProtocolError("a message only the main process sends");
  }
}

void WorkerPool::on_result(Worker& w, Completion c, bool slot_used) {
  auto f =
      std::find_if(w.in_flight.begin(), w.in_flight.end(), [&](const InFlight& x) { return x.task.id == c.task_id; });
  if (f == w.in_flight.end())
    throw ProtocolError("a result for task " + std::to_string(c.task_id) + " it was not given");
  const uint64_t now = trace::now_ns();
  c.latency_ns = now - f->submit_ns;
  // A slot given with the task but left unused (failure, or output larger
  // than a slot) is free again; a used one returns with its batch.
  if (f->slot >= 0 && !slot_used) return_slot(w.id, f->slot);
  w.in_flight.erase(f);
  --in_flight_;
  w.last_progress_ns = now;
  if (w.in_flight.empty()) {
    stats_.worker_busy_ns += now - w.busy_since_ns;
    if (w.state == WorkerState::kBusy) w.state = WorkerState::kReady;
  }
  ready_.push_back(std::move(c));
}

void WorkerPool::fault(Worker& w, const std::string& what) noexcept {
  // Kill it; its exit is then handled like any death (respawn or error).
  if (w.fault.empty()) w.fault = what;
  close_channel(w);
  if (w.pidfd.valid()) syscall(SYS_pidfd_send_signal, w.pidfd.get(), SIGKILL, nullptr, 0);
}

std::string WorkerPool::describe_doing(const Worker& w) const {
  if (w.in_flight.empty()) return "while idle";
  const detail::WorkerStatus* status = detail::status_in(slots_->arenas[size_t(w.id)].data(), slots_->layout);
  const uint64_t task = status->task_id.load(std::memory_order_relaxed);
  std::vector<int64_t> items;
  for (const auto& e : status->items)
    if (const int64_t v = e.load(std::memory_order_relaxed); v != detail::kNoItem) items.push_back(v);
  std::string doing = "with " + std::to_string(w.in_flight.size()) + (w.in_flight.size() > 1 ? " tasks" : " task") +
                      " queued, none started";
  for (const InFlight& f : w.in_flight) {
    if (f.task.id != task) continue;
    doing = "while producing task " + std::to_string(task);
    if (!items.empty())
      doing += " (item" + std::string(items.size() > 1 ? "s" : "") + " in flight: " + join(items) + ")";
    if (w.in_flight.size() > 1) doing += " with " + std::to_string(w.in_flight.size() - 1) + " more queued";
  }
  return doing;
}

void WorkerPool::on_exited(Worker& w) {
  // Results it sent before dying are still valid and come first.
  on_readable(w);
  const ExitStatus status = reap(w.pidfd);
  epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, w.pidfd.get(), nullptr);
  unregister_and_reset(w.pidfd);
  close_channel(w);
  if (w.state == WorkerState::kDraining) {
    w.state = WorkerState::kExited;
    return;
  }
  const std::string how = w.fault.empty() ? describe(status) : w.fault;
  const std::string who = "ferry: worker " + std::to_string(w.id) + " (pid " + std::to_string(w.pid) + ") ";
  if (!w.served) {
    w.state = WorkerState::kExited;
    throw Error(who + "failed to start: " + (w.start_error.empty() ? how : w.start_error));
  }
  // The items in flight at this death narrow down the culprit of its task.
  const detail::WorkerStatus* st = detail::status_in(slots_->arenas[size_t(w.id)].data(), slots_->layout);
  const uint64_t task = st->task_id.load(std::memory_order_relaxed);
  std::vector<int64_t> items;
  for (const auto& e : st->items)
    if (const int64_t v = e.load(std::memory_order_relaxed); v != detail::kNoItem) items.push_back(v);
  std::sort(items.begin(), items.end());
  const InFlight* culprit_task = nullptr;
  for (InFlight& f : w.in_flight) {
    if (f.task.id != task) continue;
    if (f.deaths++ == 0) {
      f.suspects = items;
    } else {
      std::vector<int64_t> both;
      std::set_intersection(f.suspects.begin(), f.suspects.end(), items.begin(), items.end(), std::back_inserter(both));
      f.suspects = std::move(both);
    }
    culprit_task = &f;
  }
  const std::string what = who + how + " " + describe_doing(w);
  if (options_.respawn && respawns_left_ > 0 && !shut_down_) {
    respawn(w, what);
    return;
  }
  w.state = WorkerState::kExited;
  std::string advice =
      ". If the out-of-memory killer did it, `dmesg` says so; lower num_workers or batch_size."
      " A crash inside dataset code can be debugged with num_workers=0.";
  if (options_.respawn) {
    std::string blame;
    if (culprit_task && culprit_task->deaths > 1 && !culprit_task->suspects.empty()) {
      const auto& s = culprit_task->suspects;
      blame = std::string(s.size() > 1 ? "; one of items " : "; item ") + join(s) +
              " keeps killing workers (in flight at each of " + std::to_string(culprit_task->deaths) + " deaths)";
    }
    advice = ". Respawned " + std::to_string(options_.max_respawns) +
             " times this epoch already (max_respawns=" + std::to_string(options_.max_respawns) + ")" + blame + advice;
  }
  throw WorkerCrashed(what + advice, w.id, w.pid, status.known && status.signaled ? status.code : 0);
}

void WorkerPool::respawn(Worker& w, const std::string& what) {
  --respawns_left_;
  ++stats_.respawns;
  std::fprintf(stderr, "%s; respawning it (%d respawns left this epoch)\n", what.c_str(), respawns_left_);
  // Its tasks stay with it and go to the new process when it reports ready.
  start_process(w);
}

void WorkerPool::check_deadlines(uint64_t now) {
  for (const auto& w : workers_) {
    if (w->state == WorkerState::kStarting && now >= w->start_deadline_ns) {
      throw Timeout("ferry: worker " + std::to_string(w->id) + " (pid " + std::to_string(w->pid) +
                    ") did not report ready within " + std::to_string(options_.start_timeout.count()) +
                    " ms; a dataset's open_in_worker or worker_init hook may be stuck");
    }
    if (options_.timeout.count() <= 0 || w->state != WorkerState::kBusy) continue;
    if (now - w->last_progress_ns < ms_to_ns(options_.timeout)) continue;
    char waited[32];
    std::snprintf(waited, sizeof waited, "%.1f s", double(now - w->last_progress_ns) / 1e9);
    throw Timeout("ferry: worker " + std::to_string(w->id) + " (pid " + std::to_string(w->pid) +
                  ") made no progress on task " + std::to_string(w->in_flight.front().task.id) + " for " + waited +
                  " (timeout " + std::to_string(options_.timeout.count()) +
                  " ms). A sample may be stuck reading storage; raise `timeout` if samples are legitimately slow.");
  }
}

int WorkerPool::poll_timeout_ms(uint64_t now, uint64_t deadline_ns) const {
  uint64_t earliest = deadline_ns;
  for (const auto& w : workers_) {
    if (w->state == WorkerState::kStarting) earliest = std::min(earliest, w->start_deadline_ns);
    if (w->state == WorkerState::kBusy && options_.timeout.count() > 0)
      earliest = std::min(earliest, w->last_progress_ns + ms_to_ns(options_.timeout));
  }
  if (earliest == UINT64_MAX) return -1;
  if (earliest <= now) return 0;
  return static_cast<int>(std::min<uint64_t>((earliest - now) / 1'000'000 + 1, 1u << 30));
}

bool WorkerPool::can_submit() const {
  if (shut_down_ || !broken_.empty()) return false;
  return std::any_of(workers_.begin(), workers_.end(), [&](const auto& w) {
    return (w->state == WorkerState::kReady || w->state == WorkerState::kBusy) &&
           static_cast<int>(w->in_flight.size()) < options_.prefetch_factor;
  });
}

bool WorkerPool::can_submit_to(int worker) const {
  if (shut_down_ || !broken_.empty() || worker < 0 || worker >= int(workers_.size())) return false;
  const Worker& w = *workers_[size_t(worker)];
  return (w.state == WorkerState::kStarting || w.state == WorkerState::kReady || w.state == WorkerState::kBusy) &&
         static_cast<int>(w.in_flight.size()) < options_.prefetch_factor;
}

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
      if (task.worker >= 0 ? w->id != task.worker || !can_submit_to(w->id)
                           : (w->state != WorkerState::kReady && w->state != WorkerState::kBusy) ||
                                 static_cast<int>(w->in_flight.size()) >= options_.prefetch_factor)
        continue;
      const bool has_slot = !slots_->free[static_cast<size_t>(w->id)].empty();
      if (!best || (has_slot && !best_has_slot) ||
          (has_slot == best_has_slot && w->in_flight.size() < best->in_flight.size())) {
        best = w.get();
        best_has_slot = has_slot;
      }
    }
    if (!best || !broken_.empty() || shut_down_)
      throw Error("ferry: internal error: submit() without a worker that has capacity");
    auto& free = slots_->free[static_cast<size_t>(best->id)];
    if (!free.empty()) {
      slot = free.back();
      free.pop_back();
    }
  }
  try {
    // A send to a dead worker fails; its pidfd reports why on the next
    // wait(), and the task keeps its slot so a respawned worker re-runs it
    // there. A starting worker gets its tasks with its Ready.
    if (best->state != WorkerState::kStarting) send_task(*best, task, slot, out_);
  } catch (...) {
    if (slot >= 0) return_slot(best->id, slot);
    throw;
  }
  const uint64_t now = trace::now_ns();
  if (best->in_flight.empty()) {
    best->busy_since_ns = now;
    best->last_progress_ns = now;
  }
  if (best->state != WorkerState::kStarting) best->state = WorkerState::kBusy;
  best->in_flight.push_back(InFlight{now, slot, std::move(task), {}, 0});
  ++in_flight_;
}

Completion WorkerPool::wait() {
  try {
    while (ready_.empty()) {
      if (shut_down_) throw Error("ferry: wait() on a pool that was shut down");
      if (!broken_.empty()) throw Error("ferry: the worker pool stopped earlier: " + broken_);
      if (in_flight_ == 0 && events_.empty()) throw Error("ferry: internal error: wait() with nothing in flight");
      check_deadlines(trace::now_ns());
      pump(UINT64_MAX);
    }
  } catch (const std::exception& e) {
    if (broken_.empty()) broken_ = e.what();
    throw;
  }
  Completion c = std::move(ready_.front());
  ready_.pop_front();
  return c;
}

bool WorkerPool::send_task(Worker& w, const Task& task, int slot, ByteWriter& out) {
  detail::TaskMsg msg{task.id, task.epoch, slot, task.items};
  return w.channel.valid() && w.channel.send(detail::encode(msg, out));
}

void WorkerPool::return_slot(int worker, int slot) {
  std::lock_guard lock(slots_->mutex);
  slots_->free[static_cast<size_t>(worker)].push_back(slot);
}

void WorkerPool::close_channel(Worker& w) noexcept {
  if (!w.channel.valid()) return;
  if (epoll_.valid()) epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, w.channel.fd(), nullptr);
  detail::unregister_parent_fd(w.channel.fd());
  w.channel.close();
}

void WorkerPool::discard_pending(Worker& w) noexcept {
  try {
    while (w.channel.valid()) {
      Channel::Received in = w.channel.receive(/*nonblocking=*/true);  // a passed fd closes with `in`
      if (in.status == Channel::Received::Status::kWouldBlock) return;
      if (in.status != Channel::Received::Status::kMessage) {
        close_channel(w);
        return;
      }
      ByteReader r(in.message);
      if (detail::read_type(r) != MsgType::kDone) continue;
      const detail::DoneMsg m = detail::decode<detail::DoneMsg>(r);
      if (!m.one_off_name.empty()) shm_unlink(("/" + m.one_off_name).c_str());
    }
  } catch (...) {
    close_channel(w);
  }
}

void WorkerPool::wait_for_exits(std::chrono::milliseconds grace) noexcept {
  const uint64_t deadline = trace::now_ns() + ms_to_ns(grace);
  for (;;) {
    std::vector<pollfd> fds;
    std::vector<Worker*> owners;
    for (auto& w : workers_) {
      if (!w->pidfd.valid()) continue;
      fds.push_back({w->pidfd.get(), POLLIN, 0});
      owners.push_back(w.get());
    }
    const size_t pidfds = fds.size();
    if (pidfds == 0) return;
    for (auto& w : workers_) {
      if (!w->channel.valid()) continue;
      fds.push_back({w->channel.fd(), POLLIN, 0});
      owners.push_back(w.get());
    }
    const uint64_t now = trace::now_ns();
    if (now >= deadline) return;
    const int n = poll(fds.data(), fds.size(), static_cast<int>((deadline - now) / 1'000'000 + 1));
    ++stats_.wakeups;
    if (n <= 0) continue;
    for (size_t i = pidfds; i < fds.size(); ++i)
      if (fds[i].revents) discard_pending(*owners[i]);
    for (size_t i = 0; i < pidfds; ++i) {
      if (!(fds[i].revents & POLLIN)) continue;
      // Exited: reaped here, or already by the kernel when SIGCHLD is ignored.
      reap(owners[i]->pidfd);
      unregister_and_reset(owners[i]->pidfd);
      owners[i]->state = WorkerState::kExited;
    }
  }
}

void WorkerPool::shutdown() noexcept {
  if (shut_down_) return;
  shut_down_ = true;
  // 1. Ask politely. With fds, close our ends too: a worker blocked sending a
  //    result gets EPIPE. Named segments must be unlinked by whoever holds the
  //    last reference, so then we keep reading (and unlinking) until it exits.
  const bool named = options_.sharing == Sharing::kFileSystem;
  for (auto& w : workers_) {
    if (w->pidfd.valid()) w->state = WorkerState::kDraining;
    if (!w->channel.valid()) continue;
    ByteWriter msg;
    w->channel.try_send(detail::encode(detail::ShutdownMsg{}, msg));  // a full socket: EOF or a signal reaches it
    if (!named) close_channel(*w);
  }
  // 2. Wait for exits with a deadline, then SIGTERM, then SIGKILL, each bounded.
  wait_for_exits(options_.shutdown_grace);
  for (auto& w : workers_)
    if (w->pidfd.valid()) syscall(SYS_pidfd_send_signal, w->pidfd.get(), SIGTERM, nullptr, 0);
  wait_for_exits(options_.shutdown_grace);
  for (auto& w : workers_)
    if (w->pidfd.valid()) syscall(SYS_pidfd_send_signal, w->pidfd.get(), SIGKILL, nullptr, 0);
  wait_for_exits(options_.shutdown_grace);
  for (auto& w : workers_) {
    if (w->pidfd.valid()) {
      // Not dead within the bound (stuck in the kernel): reaped later.
      std::lock_guard lock(g_orphans_mutex);
      g_orphans.push_back(w->pid);
    }
    unregister_and_reset(w->pidfd);
    discard_pending(*w);
    close_channel(*w);
    w->state = WorkerState::kExited;
  }
  // Segments our killed workers created but never sent.
  if (named) reap_stale_named_segments();
  reap_orphans();
  in_flight_ = 0;
  ready_.clear();
  events_.clear();
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

std::vector<WorkerState> WorkerPool::states() const {
  std::vector<WorkerState> out;
  for (const auto& w : workers_) out.push_back(w->state);
  return out;
}

PoolStats WorkerPool::stats() const {
  PoolStats s = stats_;
  const uint64_t now = trace::now_ns();
  for (const auto& w : workers_)
    if (!w->in_flight.empty() && w->state != WorkerState::kExited) s.worker_busy_ns += now - w->busy_since_ns;
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
