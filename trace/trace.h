#pragma once
/// Stage timing for every process of a loader: an NVTX range in the `ferry`
/// domain (free when no profiler is attached, compiled out with FERRY_NVTX=OFF),
/// a per-process total per stage, and optionally a trace event that the
/// bench tool writes as Chrome trace-event JSON.
///
///   { trace::ScopedStage s(trace::Stage::kDecode); decode(...); }
///
/// Worker processes ship their totals and events to the main process with each
/// finished batch (see take_totals/take_events), so one report and one trace
/// cover the whole process tree.
#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::trace {

enum class Stage : uint8_t {
  kRead,          // bytes from storage
  kHeader,        // JPEG header parse (size, colour space), before the crop is chosen
  kDecode,        // JPEG entropy decode and IDCT: one range per image
  kAugment,       // crop, resize, flip, normalize
  kWrite,         // filling a sample's place in the batch (non-image fields)
  kSend,          // worker -> main descriptor
  kWaitForBatch,  // consumer blocked for the next batch
  kReorder,       // consumer waiting for its batch while later ones have arrived
  kStartWorkers,  // starting a pool: fork/spawn until every worker is ready
  kH2D,           // host to device copy
  kKernel,        // GPU conversion kernel
  kHandoff,       // CUDA IPC export/import
  kCount
};
inline constexpr size_t kStageCount = static_cast<size_t>(Stage::kCount);

/// "read", "header", "decode", ... as used in reports, JSON keys and trace names.
std::string_view stage_name(Stage s);

/// Nanoseconds on CLOCK_MONOTONIC, comparable across processes of one host.
uint64_t now_ns();

struct StageTotals {
  std::array<uint64_t, kStageCount> ns{};
  StageTotals& operator+=(const StageTotals& o) {
    for (size_t i = 0; i < kStageCount; ++i) ns[i] += o.ns[i];
    return *this;
  }
};

struct Event {
  Stage stage;
  int32_t pid;
  int32_t tid;
  uint64_t start_ns;
  uint64_t duration_ns;
};

/// Adds `ns` to this process's total for `s` (thread-safe, lock-free).
void add_stage_time(Stage s, uint64_t ns);
/// Returns this process's totals and resets them to zero.
StageTotals take_totals();

/// Turns trace-event recording on or off for this process (off by default).
/// Recording keeps at most `max_events` events; later ones are counted as dropped.
void set_recording(bool on, size_t max_events = 1 << 20);
bool recording();
/// Returns the events recorded since the last call and clears them.
std::vector<Event> take_events();
/// Appends events that came from another process (worker -> main).
void add_events(const std::vector<Event>& events);
size_t dropped_events();

/// In a forked child, first thing: drops the totals and events inherited from
/// the parent, without taking a lock another parent thread may have held at
/// the fork.
void reset_after_fork() noexcept;

/// Names the calling OS thread for `ps`, gdb and Nsight (prctl + NVTX).
void name_this_thread(const std::string& name);

/// NVTX range + stage time + optional trace event, for one scope.
class ScopedStage {
 public:
  explicit ScopedStage(Stage s);
  ~ScopedStage();
  ScopedStage(const ScopedStage&) = delete;
  ScopedStage& operator=(const ScopedStage&) = delete;

 private:
  Stage stage_;
  uint64_t start_;
};

}  // namespace ferry::trace
