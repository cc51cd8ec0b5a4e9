#include "workers/detail/worker_main.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <optional>

#include "trace/trace.h"
#include "workers/detail/protocol.h"
#include "workers/shared_segment.h"

namespace ferry::workers::detail {
namespace {

// Events ride along with results; this bounds one message (the rest goes
// with the next result).
constexpr size_t kMaxEventsPerMessage = 8192;
// A producer's error text beyond this is cut (a runaway message must not
// cost the main process more than the batch).
constexpr size_t kMaxErrorText = 256 << 10;

// The kernel sends this when the *thread* that started the worker exits, not
// only when the parent process dies; a real-time signal nothing else uses.
const int kParentThreadExited = SIGRTMAX - 1;
pid_t g_parent_pid = 0;

void on_parent_thread_exited(int) {
  // Reparented within the parent's process when only that thread ended;
  // reparented elsewhere when the process is gone. Async-signal-safe only.
  if (getppid() != g_parent_pid) _exit(0);
}

class WorkerSink final : public SlotSink {
 public:
  WorkerSink(const WorkerSetup& setup, WorkerStatus* status, int slot) : setup_(setup), status_(status), slot_(slot) {}

  std::span<std::byte> allocate(size_t bytes) override {
    allocated_ = true;
    if (slot_ >= 0 && bytes <= setup_.layout.slot_bytes) {
      one_off_.reset();
      return {setup_.arena + setup_.layout.slot_offset(slot_), setup_.layout.slot_bytes};
    }
    // No free slot was given, or the output is larger than a slot.
    const size_t size = round_up_to_page(std::max(bytes, setup_.layout.slot_bytes));
    const std::string purpose = "a one-off batch segment of worker " + std::to_string(setup_.worker_id);
    one_off_ = setup_.named_segments ? SharedSegment::create_named(segment_name("oneoff"), size, purpose)
                                     : SharedSegment::create(setup_.name + "-oneoff", size, purpose);
    return {one_off_->data(), one_off_->size()};
  }
  size_t slot_bytes() const override { return setup_.layout.slot_bytes; }

  int item_started(int64_t item) override {
    for (int i = 0; i < kMaxItemsInFlight; ++i) {
      int64_t free_entry = kNoItem;
      if (status_->items[i].compare_exchange_strong(free_entry, item, std::memory_order_relaxed)) return i;
    }
    return -1;  // more items at once than threads_per_worker allows: not named
  }
  void item_finished(int ticket) override {
    if (ticket >= 0) status_->items[ticket].store(kNoItem, std::memory_order_relaxed);
  }

  std::optional<SharedSegment>& one_off() { return one_off_; }
  bool allocated() const { return allocated_; }

 private:
  bool allocated_ = false;
  const WorkerSetup& setup_;
  WorkerStatus* status_;
  int slot_;
  std::optional<SharedSegment> one_off_;
};

WorkerTrace take_trace() {
  WorkerTrace t;
  t.totals = trace::take_totals();
  t.events = trace::take_events();
  if (t.events.size() > kMaxEventsPerMessage) {
    std::vector<trace::Event> rest(t.events.begin() + kMaxEventsPerMessage, t.events.end());
    t.events.resize(kMaxEventsPerMessage);
    trace::add_events(rest);
  }
  return t;
}

void prepare_process(WorkerSetup& setup) {
  die_with_parent(setup.parent_pid);
  // Ctrl-C goes to the whole process group; the parent decides what happens.
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_DFL);
  signal(SIGPIPE, SIG_IGN);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int fd : setup.fds_to_close)
    if (fd != setup.arena_fd) close(fd);
  if (!setup.arena) {
    void* p = mmap(nullptr, setup.layout.bytes(), PROT_READ | PROT_WRITE, MAP_SHARED, setup.arena_fd, 0);
    if (p == MAP_FAILED) _exit(kExitSetupFailed);
    madvise(p, setup.layout.bytes(), MADV_DONTDUMP);
    setup.arena = static_cast<std::byte*>(p);
  }
  if (setup.arena_fd >= 0) close(setup.arena_fd);
  // A fresh mapping starts with no page tables; fault the slots in once here
  // rather than inside the first batches.
  prefault_pages(setup.arena, setup.layout.status_offset());
  trace::name_this_thread(setup.name);
}

[[noreturn]] void serve(const WorkerSetup& setup, Channel& channel, Producer& producer) {
  WorkerStatus* status = status_in(setup.arena, setup.layout);
  ByteWriter out;
  for (;;) {
    Channel::Received in = channel.receive();
    if (in.status != Channel::Received::Status::kMessage) _exit(0);  // the main process closed the channel
    TaskMsg task;
    try {
      ByteReader r(in.message);
      const MsgType type = read_type(r);
      if (type == MsgType::kShutdown) _exit(0);
      if (type != MsgType::kTask) _exit(kExitProtocolError);
      task = decode<TaskMsg>(r);
    } catch (const ProtocolError&) {
      _exit(kExitProtocolError);
    }
    status->task_id.store(task.task_id, std::memory_order_relaxed);
    WorkerSink sink(setup, status, task.slot);
    Task t{task.task_id, task.epoch, std::move(task.items)};
    bool done = false;
    try {
      DoneMsg msg;
      msg.payload = producer.produce(t, sink);
      trace::ScopedStage send_stage(trace::Stage::kSend);
      msg.task_id = t.id;
      // No memory asked for (an empty output): slot -1 and no segment.
      msg.slot = sink.one_off() || !sink.allocated() ? -1 : task.slot;
      msg.one_off_bytes = sink.one_off() ? sink.one_off()->size() : 0;
      // file_system: the main process opens it by name and unlinks it.
      msg.one_off_name = sink.one_off() ? sink.one_off()->name() : std::string();
      msg.trace = take_trace();
      encode(msg, out);
      done = true;
    } catch (const std::exception& e) {
      FailedMsg msg;
      msg.task_id = t.id;
      const auto* item_failed = dynamic_cast<const ItemFailed*>(&e);
      msg.item = item_failed ? item_failed->item() : -1;
      msg.message = e.what();
      if (msg.message.size() > kMaxErrorText) msg.message.resize(kMaxErrorText), msg.message += " [...cut]";
      msg.trace = take_trace();
      encode(msg, out);
    }
    status->task_id.store(0, std::memory_order_relaxed);
    const int fd = done && sink.one_off() && !setup.named_segments ? sink.one_off()->fd() : -1;
    if (!done && sink.one_off()) sink.one_off()->unlink_name();  // nobody will open it
    if (!channel.send(out.buffer(), fd)) {
      // The main process is gone or stopping and will never open the segment.
      if (sink.one_off()) sink.one_off()->unlink_name();
      _exit(0);
    }
  }
}

}  // namespace

void die_with_parent(pid_t parent) {
  // The getppid check closes the race where the parent died before prctl.
  g_parent_pid = parent;
  struct sigaction sa {};
  sa.sa_handler = on_parent_thread_exited;
  sa.sa_flags = SA_RESTART;
  sigaction(kParentThreadExited, &sa, nullptr);
  prctl(PR_SET_PDEATHSIG, kParentThreadExited);
  if (getppid() != parent) _exit(0);
}

void run_worker(WorkerSetup setup, Channel channel, Producer& producer) {
  prepare_process(setup);
  try {
    producer.start_worker(setup.worker_id);
  } catch (const std::exception& e) {
    ByteWriter w;
    channel.send(encode(StartFailedMsg{e.what()}, w));
    _exit(1);
  }
  ByteWriter w;
  if (!channel.send(encode(ReadyMsg{getpid()}, w))) _exit(0);
  serve(setup, channel, producer);
}

}  // namespace ferry::workers::detail
