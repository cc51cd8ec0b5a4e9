#pragma once
// The protocol on a worker's channel. Main -> worker: Task, Shutdown.
// Worker -> main: Ready or StartFailed once, then Done or Failed per task.
#include <cstdint>

namespace ferry::workers::detail {

enum class MsgType : uint32_t {
  kTask = 1,     // task_id u64, epoch u64, slot i32, items vector<i64>
  kShutdown,     // (empty)
  kReady,        // pid i32
  kStartFailed,  // message string
  kDone,         // task_id u64, slot i32 (-1: fd attached), bytes u64, payload, totals, events
  kFailed,       // task_id u64, item i64, message string, totals, events
  kSetup,        // spawned workers only, with the arena fd: id i32, parent i32, name,
                 // slot_bytes u64, num_slots i32, arena_bytes u64, payload
};

}  // namespace ferry::workers::detail
