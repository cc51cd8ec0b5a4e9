// The loader when several things go wrong at once, or the host is unusual:
// deaths during an epoch, threads that come and go, the open-file limit,
// huge batches, the fork-safety rule at respawn time, and one failure path
// that keeps the failed batch for a resume.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include "base/error.h"
#include "loader/data_loader.h"
#include "tests/support/batch_bytes.h"
#include "tests/support/process_census.h"
#include "tests/support/scripted_dataset.h"
#include "tests/support/test_conditions.h"

namespace ferry {
namespace {

using testing::AtOpenFileLimit;
using testing::epoch_bytes;
using testing::eventually;
using testing::ExtraThread;
using testing::Misbehave;
using testing::ScriptedDataset;

LoaderOptions options(int workers) {
  LoaderOptions o;
  o.batch_size = 4;
  o.num_workers = workers;
  o.shuffle = true;
  o.seed = 17;
  return o;
}

TEST(EngineEdges, ThreeOfFourWorkersKilledAtOnceStillGiveTheUndisturbedEpoch) {
  const testing::Census before = testing::take_census();
  {
    auto ds = std::make_shared<ScriptedDataset>(120, 200);
    LoaderOptions o = options(4);
    o.persistent_workers = true;
    const auto want = epoch_bytes(*std::make_unique<DataLoader>(ds, o));
    o.on_worker_failure = OnWorkerFailure::kRespawn;
    DataLoader loader(ds, o);
    std::vector<std::vector<uint8_t>> got;
    for (auto& batch : loader) {
      got.push_back(testing::batch_bytes(batch));
      if (got.size() == 5) {
        // While the consumer is busy with a batch, three workers die at once.
        const std::vector<int> pids = loader.worker_pids();
        for (int w = 0; w < 3; ++w) kill(pids[size_t(w)], SIGKILL);
      }
    }
    EXPECT_EQ(got, want);
    EXPECT_EQ(loader.stats().worker_respawns, 3);
    EXPECT_EQ(epoch_bytes(loader).size(), want.size()) << "the next epoch runs on the respawned workers";
  }
  EXPECT_EQ(testing::wait_until_clean(before), "");
}

TEST(EngineEdges, APersistentLoaderKeepsItsWorkersAcrossShortLivedThreads) {
  // The workers of a loader first iterated from a thread that then exits
  // must not die with that thread.
  auto ds = std::make_shared<ScriptedDataset>(40, 32);
  ds->spawnable();
  LoaderOptions o = options(2);
  o.persistent_workers = true;
  o.plugins = {FERRY_TEST_PLUGIN};
  const auto want0 = epoch_bytes(*std::make_unique<DataLoader>(ds, options(2)));
  DataLoader loader(ds, o);
  std::vector<std::vector<uint8_t>> got0, got1;
  std::vector<int> pids;
  std::thread first([&] {
    got0 = epoch_bytes(loader);
    pids = loader.worker_pids();
  });
  first.join();
  ASSERT_EQ(pids.size(), 2u);
  for (int pid : pids) EXPECT_TRUE(testing::process_alive(pid)) << "worker " << pid << " died with the thread";
  std::thread second([&] { got1 = epoch_bytes(loader); });
  second.join();
  EXPECT_EQ(got0, want0);
  EXPECT_EQ(got1.size(), want0.size());
  EXPECT_EQ(loader.worker_pids(), pids);
  EXPECT_EQ(loader.stats().worker_starts, 1);
}

TEST(EngineEdges, ARespawnObeysTheForkSafetyRuleOfTheFirstStart) {
  const std::string dir = [] {
    char tmpl[] = "/tmp/ferry-edges-XXXXXX";
    return std::string(mkdtemp(tmpl));
  }();
  {
    // Explicit fork, single-threaded at the start; a thread appears, then a
    // worker dies: the replacement is refused, naming spawn.
    auto ds = std::make_shared<ScriptedDataset>(40, 32);
    ds->marker_dir(dir).on(22, Misbehave::kKillSelfOnce);
    LoaderOptions o = options(2);
    o.start_method = StartMethod::kFork;
    o.on_worker_failure = OnWorkerFailure::kRespawn;
    DataLoader loader(ds, o);
    auto it = loader.begin();
    ExtraThread thread;
    try {
      for (; it != loader.end(); ++it) {
      }
      ADD_FAILURE() << "no error";
    } catch (const InvalidOption& e) {
      EXPECT_NE(std::string(e.what()).find("start_method=spawn"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(loader.worker_pids().empty()) << "the failed epoch stopped the pool";
  }
  std::filesystem::remove_all(dir);
  std::filesystem::create_directory(dir);
  {
    // auto with a rebuildable dataset: the replacement is spawned.
    auto ds = std::make_shared<ScriptedDataset>(40, 32);
    ds->marker_dir(dir).on(22, Misbehave::kKillSelfOnce).spawnable();
    LoaderOptions o = options(2);
    o.on_worker_failure = OnWorkerFailure::kRespawn;
    o.plugins = {FERRY_TEST_PLUGIN};
    const auto want = epoch_bytes(*std::make_unique<DataLoader>(std::make_shared<ScriptedDataset>(40, 32), options(2)));
    DataLoader loader(ds, o);
    std::vector<std::vector<uint8_t>> got;
    auto it = loader.begin();
    got.push_back(testing::batch_bytes(*it));
    ExtraThread thread;
    for (++it; it != loader.end(); ++it) got.push_back(testing::batch_bytes(*it));
    EXPECT_EQ(got, want);
    EXPECT_EQ(loader.stats().worker_respawns, 1);
    EXPECT_EQ(loader.stats().start_method, "fork, then spawn");
  }
  std::filesystem::remove_all(dir);
}

TEST(EngineEdges, WithThreadsTheBlameNamesTheSampleThatKillsNotItsNeighbours) {
  auto ds = std::make_shared<ScriptedDataset>(64, 32);
  ds->on(13, Misbehave::kKillSelf);
  LoaderOptions o = options(1);
  o.shuffle = false;
  o.batch_size = 16;
  o.threads_per_worker = 4;
  o.on_worker_failure = OnWorkerFailure::kRespawn;
  o.max_respawns = 3;
  DataLoader loader(ds, o);
  try {
    for (auto& batch : loader) (void)batch;
    ADD_FAILURE() << "no error";
  } catch (const WorkerCrashed& e) {
    const std::string what = e.what();
    // Samples in flight beside 13 at one death finish at another: across
    // four deaths only the culprit stays (or a few that always ran with it).
    const auto at = what.find("keeps killing workers");
    ASSERT_NE(at, std::string::npos) << what;
    const auto from = what.rfind("; ", at);
    const std::string blame = what.substr(from, at - from);
    EXPECT_NE(blame.find("13"), std::string::npos) << what;
    EXPECT_NE(what.find("in flight at each of 4 deaths"), std::string::npos) << what;
  }
}

TEST(EngineEdges, AtTheOpenFileLimitTheErrorNamesItAndTheNextEpochWorks) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer needs free fds of its own (it opens pipes to check memory while "
                  "reporting); the Release suite runs this test";
#endif
  const testing::Census before = testing::take_census();
  {
    auto ds = std::make_shared<ScriptedDataset>(40, 64);
    LoaderOptions o = options(1);
    o.persistent_workers = true;
    DataLoader loader(ds, o);
    std::vector<Batch> held;  // holding every slot: the rest come in one-off segments
    std::string message;
    auto it = loader.begin();  // the pool's own fds exist before the limit
    held.push_back(std::move(*it));
    try {
      AtOpenFileLimit full;
      for (++it; it != loader.end(); ++it) held.push_back(std::move(*it));
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      message = e.what();
    }
    EXPECT_NE(message.find("RLIMIT_NOFILE = 256"), std::string::npos) << message;
    EXPECT_NE(message.find("batch " + std::to_string(held.size()) + " of epoch 0"), std::string::npos) << message;
    const LoaderState s = loader.state();
    EXPECT_EQ(s.epoch, 0u);
    EXPECT_EQ(s.consumed.size(), held.size()) << "the lost batch is not counted as delivered";
    held.clear();
    int64_t samples = 0;
    for (auto& batch : loader) samples += batch.size();  // does not hang
    EXPECT_EQ(samples, 40);
  }
  EXPECT_EQ(testing::wait_until_clean(before), "");
}

TEST(EngineEdges, TheLargestBatchSizesWorkThroughWorkers) {
  // 200,000 indices are 1.6 MB of task: more than any one datagram.
  auto ds = std::make_shared<ScriptedDataset>(200'000, 1);
  LoaderOptions o = options(1);
  o.shuffle = false;
  o.batch_size = 200'000;
  DataLoader loader(ds, o);
  int64_t batches = 0;
  for (auto& batch : loader) {
    ++batches;
    ASSERT_EQ(batch.size(), 200'000);
    const int64_t* index = batch["index"].data_as<int64_t>();
    EXPECT_EQ(index[0], 0);
    EXPECT_EQ(index[199'999], 199'999);
  }
  EXPECT_EQ(batches, 1);
}

TEST(EngineEdges, AFailedBatchIsNotCountedAsDeliveredSoAResumeRedoesIt) {
  for (int workers : {0, 2}) {
    auto bad = std::make_shared<ScriptedDataset>(40, 16);
    LoaderOptions o = options(workers);
    o.shuffle = false;
    bad->on(9, Misbehave::kThrow);  // in batch 2
    DataLoader first(bad, o);
    EXPECT_THROW(epoch_bytes(first), SampleFailed);
    const LoaderState s = first.state();
    EXPECT_EQ(s.epoch, 0u);
    EXPECT_EQ(s.consumed, (std::vector<int64_t>{0, 1})) << "workers=" << workers;
    // The cause fixed, a resumed loader starts at the failed batch.
    auto good = std::make_shared<ScriptedDataset>(40, 16);
    DataLoader resumed(good, o);
    resumed.load_state(s);
    const auto rest = epoch_bytes(resumed);
    const auto all = epoch_bytes(*std::make_unique<DataLoader>(good, o));
    ASSERT_EQ(rest.size(), all.size() - 2);
    EXPECT_EQ(rest.front(), all[2]);
  }
}

TEST(EngineEdges, CloseStopsTheWorkersAndKeepsThePosition) {
  const testing::Census before = testing::take_census();
  {
    auto ds = std::make_shared<ScriptedDataset>(40, 16);
    LoaderOptions o = options(2);
    o.persistent_workers = true;
    DataLoader loader(ds, o);
    auto it = loader.begin();
    ++it;
    const std::vector<int> pids = loader.worker_pids();
    loader.close();
    EXPECT_TRUE(loader.worker_pids().empty());
    for (int pid : pids) EXPECT_TRUE(eventually([&] { return !testing::process_alive(pid); }));
    EXPECT_EQ(loader.state().consumed, (std::vector<int64_t>{0, 1}));
    int64_t samples = 0;
    for (auto& batch : loader) samples += batch.size();  // fresh workers
    EXPECT_EQ(samples, 40);
    EXPECT_EQ(loader.stats().worker_starts, 2);
  }
  EXPECT_EQ(testing::wait_until_clean(before), "");
}

}  // namespace
}  // namespace ferry
