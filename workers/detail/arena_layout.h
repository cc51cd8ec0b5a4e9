#pragma once
// A worker's arena: `slots` batch slots of `slot_bytes` each, then one page
// holding the worker's status (what it is producing, for the main process to
// read after the worker died). Both sides derive every offset from here.
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace ferry::workers::detail {

// Items one worker may have in production at once (threads_per_worker).
inline constexpr int kMaxItemsInFlight = 256;
// An entry of WorkerStatus::items that names no item (any int64 is an item).
inline constexpr int64_t kNoItem = INT64_MIN;

// Written by the worker, read by the main process only after the worker died
// (so relaxed atomics suffice: the death orders them).
struct WorkerStatus {
  std::atomic<uint64_t> task_id;                  // the task being produced; 0 between tasks
  std::atomic<int64_t> items[kMaxItemsInFlight];  // kNoItem: a free entry
};
static_assert(sizeof(WorkerStatus) <= 4096);

struct ArenaLayout {
  size_t slot_bytes = 0;  // a multiple of the page size
  int slots = 0;

  size_t slot_offset(int slot) const { return slot_bytes * size_t(slot); }
  size_t status_offset() const { return slot_bytes * size_t(slots); }
  size_t bytes() const { return status_offset() + 4096; }
};

inline WorkerStatus* status_in(std::byte* arena, const ArenaLayout& layout) {
  return reinterpret_cast<WorkerStatus*>(arena + layout.status_offset());
}

// No task, no items: what a fresh (or respawned) worker's status says.
inline void reset_status(WorkerStatus* s) {
  s->task_id.store(0, std::memory_order_relaxed);
  for (auto& item : s->items) item.store(kNoItem, std::memory_order_relaxed);
}

}  // namespace ferry::workers::detail
