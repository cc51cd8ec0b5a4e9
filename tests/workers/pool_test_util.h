#pragma once
// What the WorkerPool tests share: a producer that echoes its task's items
// or misbehaves on command, small pool options, and reading results back.
#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "workers/worker_pool.h"

namespace ferry::workers::pool_testing {

// Items >= 0 are echoed (int64 each, at the start of the output); negative
// items are instructions.
constexpr int64_t kKillSelf = -1;        // SIGKILL itself while producing this item
constexpr int64_t kOneOff = -2;          // an output larger than a slot
constexpr int64_t kPauseFirstTime = -3;  // the first process to see it waits to be killed

class ScriptedProducer final : public Producer {
 public:
  explicit ScriptedProducer(std::string marker_dir = {}) : marker_dir_(std::move(marker_dir)) {}
  std::vector<std::byte> produce(const Task& task, SlotSink& sink) override {
    const size_t bytes = task.items.size() * sizeof(int64_t);
    bool big = false;
    for (int64_t item : task.items) {
      const int ticket = sink.item_started(item);
      if (item == kKillSelf) raise(SIGKILL);
      if (item == kOneOff) big = true;
      if (item == kPauseFirstTime) {
        const std::string marker = marker_dir_ + "/task-" + std::to_string(task.id);
        if (!std::filesystem::exists(marker)) {
          std::ofstream(marker) << getpid();
          for (;;) pause();
        }
      }
      sink.item_finished(ticket);
    }
    std::span<std::byte> out = sink.allocate(big ? sink.slot_bytes() * 2 : bytes);
    if (bytes) std::memcpy(out.data(), task.items.data(), bytes);
    return {};
  }

 private:
  std::string marker_dir_;
};

inline PoolOptions pool_options(int workers) {
  PoolOptions o;
  o.num_workers = workers;
  o.prefetch_factor = 2;
  o.slots_per_worker = 3;
  o.slot_bytes = 4096;
  o.start_timeout = std::chrono::seconds(20);
  return o;
}

inline Task task(uint64_t id, std::vector<int64_t> items) {
  Task t;
  t.id = id;
  t.items = std::move(items);
  return t;
}

inline std::vector<int64_t> items_of(const Completion& c, size_t n) {
  std::vector<int64_t> out(n);
  std::memcpy(out.data(), c.memory->data(), n * sizeof(int64_t));
  return out;
}

}  // namespace ferry::workers::pool_testing
