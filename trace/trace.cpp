#include "trace/trace.h"

#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <mutex>
#include <new>

#if FERRY_HAVE_NVTX
#include <nvtx3/nvToolsExt.h>
#endif

namespace ferry::trace {
namespace {

constexpr std::array<std::string_view, kStageCount> kStageNames = {
    "read",           "header",  "decode",        "augment", "write",  "send",
    "wait_for_batch", "reorder", "start_workers", "h2d",     "kernel", "handoff"};

std::array<std::atomic<uint64_t>, kStageCount> g_totals{};

std::atomic<bool> g_recording{false};
std::mutex g_events_mutex;
std::vector<Event> g_events;
size_t g_max_events = 0;
std::atomic<size_t> g_dropped{0};

#if FERRY_HAVE_NVTX
nvtxDomainHandle_t domain() {
  static nvtxDomainHandle_t d = nvtxDomainCreateA("ferry");
  return d;
}
#endif

int32_t this_tid() { return static_cast<int32_t>(syscall(SYS_gettid)); }

}  // namespace

std::string_view stage_name(Stage s) { return kStageNames[static_cast<size_t>(s)]; }

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

void add_stage_time(Stage s, uint64_t ns) { g_totals[static_cast<size_t>(s)].fetch_add(ns, std::memory_order_relaxed); }

StageTotals take_totals() {
  StageTotals t;
  for (size_t i = 0; i < kStageCount; ++i) t.ns[i] = g_totals[i].exchange(0, std::memory_order_relaxed);
  return t;
}

void set_recording(bool on, size_t max_events) {
  std::lock_guard lock(g_events_mutex);
  g_max_events = max_events;
  g_recording.store(on, std::memory_order_relaxed);
}

bool recording() { return g_recording.load(std::memory_order_relaxed); }

std::vector<Event> take_events() {
  std::lock_guard lock(g_events_mutex);
  std::vector<Event> out;
  out.swap(g_events);
  return out;
}

void add_events(const std::vector<Event>& events) {
  std::lock_guard lock(g_events_mutex);
  g_events.insert(g_events.end(), events.begin(), events.end());
}

void reset_after_fork() noexcept {
  new (&g_events_mutex) std::mutex;
  new (&g_events) std::vector<Event>;  // the parent's buffer stays unreachable: its lock may be held
  for (auto& t : g_totals) t.store(0, std::memory_order_relaxed);
}

size_t dropped_events() { return g_dropped.load(std::memory_order_relaxed); }

void name_this_thread(const std::string& name) {
  // The kernel keeps 15 characters; longer names are cut, not rejected.
  prctl(PR_SET_NAME, name.substr(0, 15).c_str(), 0, 0, 0);
#if FERRY_HAVE_NVTX
  nvtxNameOsThreadA(static_cast<uint32_t>(this_tid()), name.c_str());
#endif
}

ScopedStage::ScopedStage(Stage s) : stage_(s), start_(now_ns()) {
#if FERRY_HAVE_NVTX
  nvtxEventAttributes_t attr{};
  attr.version = NVTX_VERSION;
  attr.size = NVTX_EVENT_ATTRIB_STRUCT_SIZE;
  attr.messageType = NVTX_MESSAGE_TYPE_ASCII;
  attr.message.ascii = kStageNames[static_cast<size_t>(s)].data();
  nvtxDomainRangePushEx(domain(), &attr);
#endif
}

ScopedStage::~ScopedStage() {
  const uint64_t end = now_ns();
  add_stage_time(stage_, end - start_);
#if FERRY_HAVE_NVTX
  nvtxDomainRangePop(domain());
#endif
  if (g_recording.load(std::memory_order_relaxed)) {
    std::lock_guard lock(g_events_mutex);
    if (g_events.size() < g_max_events) {
      g_events.push_back(Event{stage_, static_cast<int32_t>(getpid()), this_tid(), start_, end - start_});
    } else {
      g_dropped.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

}  // namespace ferry::trace
