#pragma once
// The body of a worker process (forked, or spawned and set up): prepare the
// process, then serve tasks until Shutdown or end-of-file. Never returns.
#include <sys/types.h>

#include <cstddef>
#include <string>
#include <vector>

#include "workers/channel.h"
#include "workers/detail/arena_layout.h"
#include "workers/producer.h"

namespace ferry::workers::detail {

struct WorkerSetup {
  int worker_id = 0;
  pid_t parent_pid = 0;
  std::string name;  // process name, e.g. "ferry-w3"
  ArenaLayout layout;
  // The arena: mapped already (spawned), or mapped by the worker from
  // arena_fd (forked: mappings are not inherited, see shared_segment.cpp).
  std::byte* arena = nullptr;
  int arena_fd = -1;
  bool named_segments = false;    // file_system sharing: one-off segments by name
  std::vector<int> fds_to_close;  // the parent's fds this worker must drop (forked)
};

// Exit statuses a worker chooses itself (a signal says the rest).
inline constexpr int kExitProtocolError = 3;  // a message from the main process made no sense
inline constexpr int kExitSetupFailed = 5;    // mapping the arena failed

// Arranges for this process to exit when `parent` (the process, not the
// thread that started it) dies; exits at once if it already has.
void die_with_parent(pid_t parent);

[[noreturn]] void run_worker(WorkerSetup setup, Channel channel, Producer& producer);

}  // namespace ferry::workers::detail
