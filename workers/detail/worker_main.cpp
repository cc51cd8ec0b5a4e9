#include "workers/detail/worker_main.h"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <optional>

#include "trace/trace.h"
#include "workers/detail/messages.h"
#include "workers/detail/wire.h"
#include "workers/shared_segment.h"

namespace ferry::workers::detail {
namespace {

// Events ride along with results; this bounds one message well under the
// channel limit (the rest goes with the next result).
constexpr size_t kMaxEventsPerMessage = 8192;

class WorkerSink final : public SlotSink {
 public:
  WorkerSink(const WorkerSetup& setup, int slot, int worker_id) : setup_(setup), slot_(slot), worker_id_(worker_id) {}

  std::span<std::byte> allocate(size_t bytes) override {
    if (slot_ >= 0 && bytes <= setup_.slot_bytes) {
      one_off_.reset();
      return {setup_.arena + static_cast<size_t>(slot_) * setup_.slot_bytes, setup_.slot_bytes};
    }
    // No free slot was given, or the output is larger than a slot.
    const size_t size = round_up_to_page(std::max(bytes, setup_.slot_bytes));
    const std::string purpose = "a one-off batch segment of worker " + std::to_string(worker_id_);
    one_off_ = setup_.named_segments ? SharedSegment::create_named(segment_name("oneoff"), size, purpose)
                                     : SharedSegment::create(setup_.name + "-oneoff", size, purpose);
    return {one_off_->data(), one_off_->size()};
  }
  size_t slot_bytes() const override { return setup_.slot_bytes; }
  void note_item(int64_t item) override { __atomic_store_n(setup_.status, item, __ATOMIC_RELAXED); }

  std::optional<SharedSegment>& one_off() { return one_off_; }

 private:
  const WorkerSetup& setup_;
  int slot_;
  int worker_id_;
  std::optional<SharedSegment> one_off_;
};

void append_trace(ByteWriter& w) {
  const trace::StageTotals totals = trace::take_totals();
  w.put(totals);
  std::vector<trace::Event> events = trace::take_events();
  if (events.size() > kMaxEventsPerMessage) {
    std::vector<trace::Event> rest(events.begin() + kMaxEventsPerMessage, events.end());
    events.resize(kMaxEventsPerMessage);
    trace::add_events(rest);
  }
  w.put_vector<trace::Event>(events);
}

void send_or_exit(Channel& channel, ByteWriter& w, int fd = -1) {
  // The main process closed its end: it is shutting down or gone.
  if (!channel.send(w.buffer(), fd)) _exit(0);
}

void prepare_process(const WorkerSetup& setup) {
  // Die with the parent; the getppid check closes the race where the parent
  // died before prctl took effect.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != setup.parent_pid) _exit(0);
  // Ctrl-C goes to the whole process group; the parent decides what happens.
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_DFL);
  signal(SIGPIPE, SIG_IGN);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int fd : setup.fds_to_close) close(fd);
  trace::name_this_thread(setup.name);
  // Counters and events inherited from the parent are not this worker's.
  trace::take_totals();
  trace::take_events();
}

}  // namespace

void run_worker(const WorkerSetup& setup, Channel channel, Producer& producer) {
  prepare_process(setup);
  {
    // The parent's page tables do not carry over fork for shared mappings;
    // fault the arena in once here rather than inside the first batches.
    volatile std::byte* p = setup.arena;
    for (size_t off = 0; off < setup.slot_bytes * static_cast<size_t>(setup.num_slots); off += 4096) p[off] = p[off];
  }
  try {
    producer.start_worker(setup.worker_id);
  } catch (const std::exception& e) {
    ByteWriter w;
    w.put(MsgType::kStartFailed);
    w.put_string(e.what());
    send_or_exit(channel, w);
    _exit(1);
  }
  {
    ByteWriter w;
    w.put(MsgType::kReady);
    w.put<int32_t>(getpid());
    send_or_exit(channel, w);
  }

  std::vector<std::byte> buffer;
  Task task;
  for (;;) {
    if (!channel.receive(buffer)) _exit(0);  // main process closed the channel
    ByteReader r(buffer);
    const auto type = r.get<MsgType>();
    if (type == MsgType::kShutdown) _exit(0);
    if (type != MsgType::kTask) _exit(3);
    task.id = r.get<uint64_t>();
    task.epoch = r.get<uint64_t>();
    const int32_t slot = r.get<int32_t>();
    task.items = r.get_vector<int64_t>();

    WorkerSink sink(setup, slot, setup.worker_id);
    ByteWriter w;
    bool done = false;
    try {
      std::vector<std::byte> payload = producer.produce(task, sink);
      trace::ScopedStage send_stage(trace::Stage::kSend);
      w.put(MsgType::kDone);
      w.put(task.id);
      const bool one_off = sink.one_off().has_value();
      w.put<int32_t>(one_off ? -1 : slot);
      w.put<uint64_t>(one_off ? sink.one_off()->size() : 0);
      // file_system: the main process opens it by name and unlinks it.
      w.put_string(one_off ? sink.one_off()->name() : std::string());
      w.put_bytes(payload);
      done = true;
    } catch (const ItemFailed& e) {
      w = ByteWriter();
      w.put(MsgType::kFailed);
      w.put(task.id);
      w.put<int64_t>(e.item());
      w.put_string(e.what());
    } catch (const std::exception& e) {
      w = ByteWriter();
      w.put(MsgType::kFailed);
      w.put(task.id);
      w.put<int64_t>(-1);
      w.put_string(e.what());
    }
    append_trace(w);
    const int fd = done && sink.one_off().has_value() && !setup.named_segments ? sink.one_off()->fd() : -1;
    if (!done && sink.one_off().has_value()) sink.one_off()->unlink_name();  // nobody will open it
    if (!channel.send(w.buffer(), fd)) {
      // The main process is gone or stopping and will never open the segment.
      if (sink.one_off().has_value()) sink.one_off()->unlink_name();
      _exit(0);
    }
  }
}

}  // namespace ferry::workers::detail
