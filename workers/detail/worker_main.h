#pragma once
// The body of a worker process after fork: set up, then serve tasks until
// Shutdown or EOF. Never returns.
#include <sys/types.h>

#include <cstddef>
#include <string>
#include <vector>

#include "workers/channel.h"
#include "workers/producer.h"

namespace ferry::workers::detail {

struct WorkerSetup {
  int worker_id = 0;
  pid_t parent_pid = 0;
  std::string name;            // process name, e.g. "ferry-w3"
  std::byte* arena = nullptr;  // this worker's slots, already mapped
  size_t slot_bytes = 0;
  int num_slots = 0;
  int64_t* status = nullptr;      // shared word: the item being produced
  bool named_segments = false;    // file_system sharing: one-off segments by name
  std::vector<int> fds_to_close;  // the parent's fds this worker must drop
};

[[noreturn]] void run_worker(const WorkerSetup& setup, Channel channel, Producer& producer);

}  // namespace ferry::workers::detail
