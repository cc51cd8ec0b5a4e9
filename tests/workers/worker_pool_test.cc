// The worker pool on its own, without datasets: a producer that writes its
// task's items into the slot, so every test sees exactly what came back.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "tests/support/process_census.h"
#include "tests/workers/pool_test_util.h"
#include "workers/worker_pool.h"

namespace ferry::workers {
namespace {

using namespace pool_testing;

TEST(WorkerPool, SubmitPrefersAWorkerWithAFreeSlotOverAOneOffSegment) {
  const testing::Census before = testing::take_census();
  {
    WorkerPool pool(pool_options(2), std::make_shared<ScriptedProducer>());
    // Three rounds: keep worker 0's batches, drop worker 1's. Worker 0 then
    // holds every slot of its arena while both workers are idle.
    std::vector<std::shared_ptr<BatchMemory>> held;
    uint64_t id = 1;
    for (int round = 0; round < 3; ++round) {
      pool.submit(task(id++, {round}));
      pool.submit(task(id++, {round}));
      for (int i = 0; i < 2; ++i) {
        Completion c = pool.wait();
        ASSERT_EQ(c.kind, Completion::Kind::kDone);
        EXPECT_FALSE(c.memory->is_one_off());
        if (c.worker_id == 0) held.push_back(c.memory);
      }
    }
    ASSERT_EQ(held.size(), 3u);
    pool.submit(task(id++, {42}));
    Completion c = pool.wait();
    EXPECT_EQ(c.worker_id, 1) << "worker 0 has no free slot";
    EXPECT_FALSE(c.memory->is_one_off());
    EXPECT_EQ(items_of(c, 1), std::vector<int64_t>{42});
    EXPECT_EQ(pool.stats().one_off_segments, 0u);
  }
  EXPECT_EQ(testing::wait_until_clean(before), "");
}

// Writes whether the fork hook ran in this process before the worker's set-up.
bool g_child_hook_ran = false;

class HookProbeProducer final : public Producer {
 public:
  std::vector<std::byte> produce(const Task&, SlotSink& sink) override {
    const int64_t ran = g_child_hook_ran ? 1 : 0;
    std::memcpy(sink.allocate(sizeof ran).data(), &ran, sizeof ran);
    return {};
  }
};

TEST(WorkerPool, ForkHooksRunAroundEachForkOfAWorker) {
  int before = 0, parent = 0;
  PoolOptions o = pool_options(3);
  o.fork_hooks.before = [&] { ++before; };
  o.fork_hooks.after_parent = [&] { ++parent; };
  o.fork_hooks.after_child = [] { g_child_hook_ran = true; };
  WorkerPool pool(o, std::make_shared<HookProbeProducer>());
  EXPECT_EQ(before, 3);
  EXPECT_EQ(parent, 3);
  EXPECT_FALSE(g_child_hook_ran) << "after_child runs in the child only";
  for (uint64_t id = 1; id <= 3; ++id) pool.submit(task(id, {}));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(items_of(pool.wait(), 1), std::vector<int64_t>{1});
}

}  // namespace
}  // namespace ferry::workers
