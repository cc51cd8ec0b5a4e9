// WorkerPool when several things go wrong: deaths at once, deaths during a
// respawn, a host that ignores SIGCHLD, the open-file limit, huge tasks, a
// thread that exits, failed starts. Each ends bounded, named and exact.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "base/error.h"
#include "tests/support/process_census.h"
#include "tests/support/test_conditions.h"
#include "tests/workers/pool_test_util.h"
#include "workers/shared_segment.h"
#include "workers/worker_pool.h"

namespace ferry::workers {
namespace {

using testing::AtOpenFileLimit;
using testing::eventually;
using namespace pool_testing;

// The sanitizer runtimes open pipes to check memory while reporting; with
// no fd left they report errors that are not there.
#if defined(__SANITIZE_ADDRESS__)
#define SKIP_AT_THE_FD_LIMIT_UNDER_SANITIZERS() \
  GTEST_SKIP() << "AddressSanitizer needs free fds of its own; the Release suite runs this test"
#else
#define SKIP_AT_THE_FD_LIMIT_UNDER_SANITIZERS() (void)0
#endif

std::string temp_dir() {
  char tmpl[] = "/tmp/ferry-pool-test-XXXXXX";
  return mkdtemp(tmpl);
}

TEST(PoolFailure, ThreeOfFourWorkersKilledAtOnceAreRespawnedAndEveryTaskCompletesExactly) {
  const testing::Census before = testing::take_census();
  const std::string dir = temp_dir();
  {
    PoolOptions o = pool_options(4);
    o.respawn = true;
    WorkerPool pool(o, std::make_shared<ScriptedProducer>(dir));
    pool.reset_respawn_budget();
    // Tasks 1-3 go to workers 0-2 (least loaded, ties to the first) and
    // stop mid-item; task 4 to worker 3 runs through.
    for (uint64_t id = 1; id <= 3; ++id) pool.submit(task(id, {int64_t(id) * 10, kPauseFirstTime}));
    pool.submit(task(4, {40}));
    ASSERT_TRUE(eventually([&] {
      for (int id = 1; id <= 3; ++id)
        if (!std::filesystem::exists(dir + "/task-" + std::to_string(id))) return false;
      return true;
    }));
    // The main process is busy elsewhere while three die at the same instant.
    const std::vector<pid_t> pids = pool.pids();
    for (int w = 0; w < 3; ++w) kill(pids[size_t(w)], SIGKILL);
    std::map<uint64_t, std::vector<int64_t>> got;
    for (int i = 0; i < 4; ++i) {
      Completion c = pool.wait();
      ASSERT_EQ(c.kind, Completion::Kind::kDone);
      got[c.task_id] = items_of(c, c.task_id == 4 ? 1 : 2);
    }
    EXPECT_EQ(got[1], (std::vector<int64_t>{10, kPauseFirstTime}));
    EXPECT_EQ(got[2], (std::vector<int64_t>{20, kPauseFirstTime}));
    EXPECT_EQ(got[3], (std::vector<int64_t>{30, kPauseFirstTime}));
    EXPECT_EQ(got[4], (std::vector<int64_t>{40}));
    EXPECT_EQ(pool.stats().respawns, 3u);
    EXPECT_EQ(pool.in_flight(), 0);
    for (WorkerState s : pool.states()) EXPECT_EQ(s, WorkerState::kReady);
    const std::vector<pid_t> now = pool.pids();
    for (int w = 0; w < 3; ++w) EXPECT_NE(now[size_t(w)], pids[size_t(w)]) << "worker " << w << " is a new process";
    EXPECT_EQ(now[3], pids[3]) << "the healthy worker was left alone";
  }
  std::filesystem::remove_all(dir);
  EXPECT_EQ(testing::wait_until_clean(before), "");
}

TEST(PoolFailure, AWorkerDyingWhileAnotherIsBeingRespawnedIsHandledInTurn) {
  // The replacement of worker 0 is still starting when worker 1 dies too:
  // two deaths, two respawns, nothing handled inside another.
  const std::string dir = temp_dir();
  PoolOptions o = pool_options(2);
  o.respawn = true;
  WorkerPool pool(o, std::make_shared<ScriptedProducer>(dir));
  pool.reset_respawn_budget();
  pool.submit(task(1, {1, kKillSelf}));
  pool.submit(task(2, {2, kPauseFirstTime}));
  ASSERT_TRUE(eventually([&] { return std::filesystem::exists(dir + "/task-2"); }));
  kill(pool.pids()[1], SIGKILL);
  // Task 1 kills every process it runs on: three deaths of worker 0 and one of
  // worker 1 exhaust the budget of 3 at the fourth, naming the culprit.
  try {
    for (;;) {
      Completion c = pool.wait();
      EXPECT_EQ(c.task_id, 2u) << "only task 2 can complete";
    }
  } catch (const WorkerCrashed& e) {
    const std::string what = e.what();
    EXPECT_EQ(e.worker_id(), 0) << what;
    EXPECT_NE(what.find("item in flight: -1)"), std::string::npos) << what;
    EXPECT_NE(what.find("item -1 keeps killing workers (in flight at each of 3 deaths)"), std::string::npos) << what;
    EXPECT_NE(what.find("max_respawns=3"), std::string::npos) << what;
  }
  EXPECT_EQ(pool.stats().respawns, 3u);
  EXPECT_TRUE(pool.broken());
  EXPECT_FALSE(pool.can_submit());
  std::filesystem::remove_all(dir);
}

TEST(PoolFailure, WorkersOutliveTheThreadThatStartedThem) {
  // PR_SET_PDEATHSIG fires when the parent *thread* exits: a pool started
  // from a short-lived thread must keep its workers.
  std::unique_ptr<WorkerPool> pool;
  std::thread starter(
      [&] { pool = std::make_unique<WorkerPool>(pool_options(2), std::make_shared<ScriptedProducer>()); });
  starter.join();
  for (uint64_t id = 1; id <= 6; ++id) {
    if (!pool->can_submit()) (void)pool->wait();
    pool->submit(task(id, {int64_t(id)}));
  }
  int done = 0;
  while (pool->in_flight() > 0) {
    EXPECT_EQ(pool->wait().kind, Completion::Kind::kDone);
    ++done;
  }
  for (pid_t pid : pool->pids()) EXPECT_TRUE(testing::process_alive(pid));
  // A second short-lived thread uses the pool and goes, too.
  std::thread user([&] {
    pool->submit(task(100, {100}));
    EXPECT_EQ(items_of(pool->wait(), 1), std::vector<int64_t>{100});
  });
  user.join();
  pool->submit(task(101, {101}));
  EXPECT_EQ(items_of(pool->wait(), 1), std::vector<int64_t>{101});
}

// Sets SIGCHLD to SIG_IGN for its scope, as some host programs do.
class SigchldIgnored {
 public:
  SigchldIgnored() {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGCHLD, &ignore, &old_);
  }
  ~SigchldIgnored() { sigaction(SIGCHLD, &old_, nullptr); }

 private:
  struct sigaction old_ {};
};

TEST(PoolFailure, AHostThatIgnoresSigchldCostsNoBusyWaiting) {
  const SigchldIgnored ignored;
  const std::string dir = temp_dir();
  PoolStats stats;
  {
    PoolOptions o = pool_options(2);
    o.respawn = true;
    WorkerPool pool(o, std::make_shared<ScriptedProducer>(dir));
    pool.reset_respawn_budget();
    uint64_t id = 1;
    for (int round = 0; round < 50; ++round) {
      if (round == 25) {
        // A death whose status the kernel has taken: exits come from the pidfd.
        pool.submit(task(id, {round, kPauseFirstTime}));
        const std::string marker = dir + "/task-" + std::to_string(id);
        ASSERT_TRUE(
            eventually([&] { return std::filesystem::exists(marker) && std::filesystem::file_size(marker) > 0; }));
        pid_t paused = 0;
        std::ifstream(marker) >> paused;
        kill(paused, SIGKILL);
        ++id;
      } else {
        pool.submit(task(id++, {round}));
      }
      EXPECT_EQ(pool.wait().kind, Completion::Kind::kDone);
    }
    pool.shutdown();
    stats = pool.stats();
  }
  // Without busy waiting the loop wakes about once per message or exit: a
  // spin on a readable pidfd would wake thousands of times.
  EXPECT_EQ(stats.respawns, 1u);
  EXPECT_LE(stats.wakeups, stats.messages + 20) << "wakeups " << stats.wakeups << ", messages " << stats.messages;

  WorkerPool pool(pool_options(1), std::make_shared<ScriptedProducer>());
  pool.submit(task(1, {kKillSelf}));
  try {
    (void)pool.wait();
    ADD_FAILURE() << "no error";
  } catch (const WorkerCrashed& e) {
    EXPECT_NE(std::string(e.what()).find("status is unknown: this process ignores SIGCHLD"), std::string::npos)
        << e.what();
  }
  std::filesystem::remove_all(dir);
}

TEST(PoolFailure, AtTheOpenFileLimitAOneOffBatchIsLostWithTheLimitNamedAndNothingHangs) {
  SKIP_AT_THE_FD_LIMIT_UNDER_SANITIZERS();
  const testing::Census before = testing::take_census();
  {
    WorkerPool pool(pool_options(1), std::make_shared<ScriptedProducer>());
    {
      AtOpenFileLimit full;
      pool.submit(task(1, {7, kOneOff}));  // its segment's fd cannot be received
      const Completion c = pool.wait();
      EXPECT_EQ(c.kind, Completion::Kind::kLost);
      EXPECT_EQ(c.task_id, 1u);
      EXPECT_NE(c.message.find("RLIMIT_NOFILE = 256"), std::string::npos) << c.message;
      EXPECT_EQ(pool.in_flight(), 0) << "the batch is not left in flight";

      // A task too large for one datagram needs a memfd to be sent: the
      // submit fails naming the limit, and its slot goes back.
      std::vector<int64_t> many(100'000, 1);
      try {
        pool.submit(task(2, many));
        ADD_FAILURE() << "no error";
      } catch (const SystemError& e) {
        EXPECT_NE(std::string(e.what()).find("open-file limit (RLIMIT_NOFILE = 256)"), std::string::npos) << e.what();
      }
      EXPECT_EQ(pool.in_flight(), 0);
    }
    // The next calls work, and all three slots are there.
    std::vector<std::shared_ptr<BatchMemory>> held;
    for (uint64_t id = 3; id <= 5; ++id) {
      pool.submit(task(id, {int64_t(id)}));
      Completion c = pool.wait();
      ASSERT_EQ(c.kind, Completion::Kind::kDone);
      EXPECT_FALSE(c.memory->is_one_off()) << "task " << id;
      held.push_back(c.memory);
    }
  }
  EXPECT_EQ(testing::wait_until_clean(before), "");
}

TEST(PoolFailure, ATaskOfAMillionItemsTravelsWhole) {
  WorkerPool pool(pool_options(1), std::make_shared<ScriptedProducer>());
  std::vector<int64_t> items(1'000'000);
  for (size_t i = 0; i < items.size(); ++i) items[i] = int64_t(i * 3);
  pool.submit(task(1, items));
  const Completion c = pool.wait();
  ASSERT_EQ(c.kind, Completion::Kind::kDone);
  EXPECT_TRUE(c.memory->is_one_off());  // 8 MB: larger than a slot
  EXPECT_EQ(items_of(c, items.size()), items);
}

TEST(PoolFailure, TheBlameNamesOnlyTheItemsInFlightOfTheTaskThatWasRunning) {
  {
    WorkerPool pool(pool_options(1), std::make_shared<ScriptedProducer>());
    pool.submit(task(1, {11, 12, 13}));
    (void)pool.wait();
    // Idle after task 1: its items are not in flight any more.
    kill(pool.pids()[0], SIGKILL);
    pool.submit(task(2, {21}));  // sent to a dead worker: queued, never started
    try {
      (void)pool.wait();
      ADD_FAILURE() << "no error";
    } catch (const WorkerCrashed& e) {
      const std::string what = e.what();
      EXPECT_EQ(what.find("item"), std::string::npos) << what;
      EXPECT_EQ(e.signal(), SIGKILL);
    }
  }
  WorkerPool pool(pool_options(1), std::make_shared<ScriptedProducer>());
  pool.submit(task(1, {11, 12, 13}));
  (void)pool.wait();
  pool.submit(task(2, {21, 22, kKillSelf}));
  try {
    (void)pool.wait();
    ADD_FAILURE() << "no error";
  } catch (const WorkerCrashed& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("while producing task 2 (item in flight: -1)"), std::string::npos) << what;
    // Exactly the culprit: 21 and 22 finished before it, task 1 long before.
    EXPECT_EQ(what.find("items"), std::string::npos) << what;
  }
}

TEST(PoolFailure, AFailedSpawnSetUpLeaksNoPidfdAndReapsItsChild) {
  const testing::Census before = testing::take_census();
  for (const char* program : {"/bin/true", "/nonexistent/ferry-worker"}) {
    PoolOptions o = pool_options(2);
    o.launch = Launch::kSpawn;
    o.spawn.executable = program;
    try {
      WorkerPool pool(o, nullptr);
      ADD_FAILURE() << program << ": no error";
    } catch (const Error& e) {
      const std::string what = e.what();
      if (std::string(program) == "/bin/true")
        EXPECT_NE(what.find("failed to start"), std::string::npos) << what;
      else
        EXPECT_NE(what.find("posix_spawn(/nonexistent/ferry-worker)"), std::string::npos) << what;
    }
  }
  EXPECT_EQ(testing::wait_until_clean(before), "");
}

TEST(PoolFailure, AForkedChildNeverWaitsForALockAnotherParentThreadHeld) {
  // Another thread records trace events all the time (taking the recorder's
  // lock); every fork lands while it may hold it. A child that took that lock
  // would hang in start-up.
  trace::set_recording(true);
  std::atomic<bool> stop{false};
  std::thread noisy([&] {
    while (!stop.load()) trace::add_events(std::vector<trace::Event>(64));
  });
  for (int round = 0; round < 20; ++round) {
    PoolOptions o = pool_options(2);
    o.start_timeout = std::chrono::seconds(10);
    WorkerPool pool(o, std::make_shared<ScriptedProducer>());
    pool.submit(task(1, {int64_t(round)}));
    EXPECT_EQ(items_of(pool.wait(), 1), std::vector<int64_t>{round});
  }
  stop = true;
  noisy.join();
  trace::set_recording(false);
  trace::take_events();
}

TEST(PoolFailure, AForkedWorkerMapsItsOwnArenaAndNothingOfAnotherPool) {
  PoolOptions a = pool_options(2);
  a.name_prefix = "ferry-a";
  WorkerPool first(a, std::make_shared<ScriptedProducer>());
  PoolOptions b = pool_options(1);
  b.name_prefix = "ferry-b";
  WorkerPool second(b, std::make_shared<ScriptedProducer>());
  auto mappings = [](pid_t pid, const std::string& what) {
    std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
    int n = 0;
    for (std::string line; std::getline(maps, line);)
      if (line.find(what) != std::string::npos) ++n;
    return n;
  };
  const pid_t worker = second.pids()[0];
  EXPECT_EQ(mappings(worker, "/memfd:ferry-b0-slots"), 1);
  EXPECT_EQ(mappings(worker, "/memfd:ferry-a"), 0) << "the other pool's arenas";
  EXPECT_EQ(mappings(first.pids()[1], "/memfd:ferry-a0-slots"), 0) << "a sibling's arena";
  // Batch slots stay out of core dumps (VmFlags "dd").
  std::ifstream smaps("/proc/self/smaps");
  bool in_arena = false, dontdump = false;
  for (std::string line; std::getline(smaps, line);) {
    if (line.find("/memfd:ferry-b0-slots") != std::string::npos) in_arena = true;
    if (in_arena && line.rfind("VmFlags:", 0) == 0) {
      dontdump = line.find(" dd") != std::string::npos;
      break;
    }
  }
  EXPECT_TRUE(in_arena);
  EXPECT_TRUE(dontdump);
}

TEST(PoolFailure, ReapingNeverRemovesALiveSegmentOfAProcessInAnotherPidNamespace) {
  // A process in another pid namespace: its pid means nothing here (no such
  // process), but it holds its run token's lock. Here the lock is ours.
  const std::string group = "ferry-999999999-0123456789abcdef";
  const std::string alive = "/dev/shm/" + group + ".alive", segment = "/dev/shm/" + group + "-oneoff-0";
  const int lock_fd = open(alive.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(lock_fd, 0);
  ASSERT_EQ(flock(lock_fd, LOCK_SH), 0);
  close(open(segment.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  reap_stale_named_segments();
  EXPECT_TRUE(std::filesystem::exists(segment)) << "a live owner's segment was removed";
  EXPECT_TRUE(std::filesystem::exists(alive));
  close(lock_fd);  // the owner is gone
  EXPECT_EQ(reap_stale_named_segments(), 2);
  EXPECT_FALSE(std::filesystem::exists(segment));
  EXPECT_FALSE(std::filesystem::exists(alive));
}

}  // namespace
}  // namespace ferry::workers
