// The paths users judge a loader on: crashes, exceptions, hangs, early exits,
// interrupts, and a main process that dies. Each ends with nothing left over.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <thread>

#include "base/error.h"
#include "loader/bad_sample.h"
#include "loader/data_loader.h"
#include "tests/support/process_census.h"
#include "tests/support/scripted_dataset.h"

namespace ferry {
namespace {

using testing::Census;
using testing::Misbehave;
using testing::ScriptedDataset;
using Clock = std::chrono::steady_clock;

LoaderOptions options(int workers, int64_t batch = 4) {
  LoaderOptions o;
  o.batch_size = batch;
  o.num_workers = workers;
  return o;
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

void drain(DataLoader& loader) {
  for (auto& batch : loader) (void)batch;
}

TEST(Failure, DatasetExceptionReportsWorkerSampleAndMessageThenNextEpochWorks) {
  const Census before = testing::take_census();
  {
    auto ds = std::make_shared<ScriptedDataset>(20);
    ds->on(9, Misbehave::kThrow);
    LoaderOptions o = options(2);
    o.persistent_workers = true;
    DataLoader loader(ds, o);
    int64_t batches_before_error = 0;
    try {
      for (auto& batch : loader) {
        (void)batch;
        ++batches_before_error;
      }
      FAIL() << "no error";
    } catch (const SampleFailed& e) {
      EXPECT_EQ(e.sample_index(), 9);
      EXPECT_GE(e.worker_id(), 0);
      const std::string what = e.what();
      EXPECT_NE(what.find("scripted failure at index 9"), std::string::npos) << what;
      EXPECT_NE(what.find("batch 2"), std::string::npos) << what;
      EXPECT_NE(what.find("worker " + std::to_string(e.worker_id())), std::string::npos) << what;
    }
    EXPECT_EQ(batches_before_error, 2) << "the error must arrive at its batch's position";
    // The loader stays usable: the next epoch fails at the same place, not earlier.
    try {
      drain(loader);
      FAIL() << "no error in the second epoch";
    } catch (const SampleFailed& e) {
      EXPECT_EQ(e.sample_index(), 9);
    }
  }
  EXPECT_EQ(testing::wait_until_clean(before), "");
}

TEST(Failure, DatasetExceptionInCallingThreadCarriesTheSample) {
  auto ds = std::make_shared<ScriptedDataset>(8);
  ds->on(5, Misbehave::kThrow);
  DataLoader loader(ds, options(0));
  try {
    drain(loader);
    FAIL() << "no error";
  } catch (const SampleFailed& e) {
    EXPECT_EQ(e.sample_index(), 5);
    EXPECT_EQ(e.worker_id(), -1);
  }
}

TEST(Failure, KilledWorkerIsReportedWithPidAndSignalWithinOneSecond) {
  const Census before = testing::take_census();
  for (Misbehave how : {Misbehave::kKillSelf, Misbehave::kSegfault}) {
    auto ds = std::make_shared<ScriptedDataset>(40);
    ds->on(13, how);
    DataLoader loader(ds, options(2));
    const auto start = Clock::now();
    try {
      drain(loader);
      FAIL() << "no error";
    } catch (const WorkerCrashed& e) {
      EXPECT_LT(seconds_since(start), 1.0);
      const int expected = how == Misbehave::kKillSelf ? SIGKILL : SIGSEGV;
      EXPECT_EQ(e.signal(), expected);
      const std::string what = e.what();
      EXPECT_NE(what.find("pid " + std::to_string(e.pid())), std::string::npos) << what;
      EXPECT_NE(what.find(signal_name(expected)), std::string::npos) << what;
      EXPECT_NE(what.find("worker " + std::to_string(e.worker_id())), std::string::npos) << what;
    }
    // After a crash the next epoch starts fresh workers (and fails the same way).
    EXPECT_THROW(drain(loader), WorkerCrashed);
  }
  EXPECT_EQ(testing::wait_until_clean(before), "");
}

TEST(Failure, StuckWorkerTimesOutNamingWorkerBatchAndWait) {
  const Census before = testing::take_census();
  {
    auto ds = std::make_shared<ScriptedDataset>(16);
    ds->on(6, Misbehave::kHang);
    LoaderOptions o = options(2);
    o.timeout = std::chrono::milliseconds(300);
    DataLoader loader(ds, o);
    const auto start = Clock::now();
    try {
      drain(loader);
      FAIL() << "no timeout";
    } catch (const Timeout& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("made no progress on task"), std::string::npos) << what;
      EXPECT_NE(what.find("timeout 300 ms"), std::string::npos) << what;
      EXPECT_LT(seconds_since(start), 3.0);
    }
  }
  EXPECT_EQ(testing::wait_until_clean(before), "");
}

TEST(Failure, DestroyingMidEpochWithAStuckWorkerReturnsWithinTwoSeconds) {
  const Census before = testing::take_census();
  Clock::time_point start;
  {
    auto ds = std::make_shared<ScriptedDataset>(64);
    ds->on(20, Misbehave::kHang);
    DataLoader loader(ds, options(3));
    auto it = loader.begin();
    ++it;
    start = Clock::now();
  }
  EXPECT_LT(seconds_since(start), 2.0);
  EXPECT_EQ(testing::wait_until_clean(before), "");
}

TEST(Failure, BreakingOutOfTheLoopThenRunningTheNextEpochDeliversEverything) {
  const Census before = testing::take_census();
  {
    auto ds = std::make_shared<ScriptedDataset>(30);
    for (bool persistent : {false, true}) {
      LoaderOptions o = options(2, 3);
      o.persistent_workers = persistent;
      DataLoader loader(ds, o);
      for (auto& batch : loader)
        if (batch.index() == 2) break;
      int64_t n = 0;
      for (auto& batch : loader) n += batch.size();
      EXPECT_EQ(n, 30);
    }
  }
  EXPECT_EQ(testing::wait_until_clean(before), "");
}

TEST(Failure, ExceptionInTheTrainingLoopLeavesNothingBehind) {
  const Census before = testing::take_census();
  try {
    auto ds = std::make_shared<ScriptedDataset>(30);
    DataLoader loader(ds, options(2));
    for (auto& batch : loader)
      if (batch.index() == 1) throw std::runtime_error("training step failed");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(testing::wait_until_clean(before), "");
}

TEST(Failure, BatchesOutlivingTheLoaderStayReadable) {
  std::vector<Batch> kept;
  {
    auto ds = std::make_shared<ScriptedDataset>(10);
    DataLoader loader(ds, options(2, 5));
    for (auto& batch : loader) kept.push_back(std::move(batch));
  }
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[1]["index"].data_as<int64_t>()[4], 9);
}

volatile sig_atomic_t g_interrupted = 0;
void on_sigint(int) { g_interrupted = 1; }

TEST(Failure, SigintDuringAWaitStopsCleanlyThroughTheInterruptHook) {
  const Census before = testing::take_census();
  struct sigaction sa {
  }, old{};
  sa.sa_handler = on_sigint;  // no SA_RESTART: the wait sees EINTR
  sigaction(SIGINT, &sa, &old);
  // The killer sends SIGINT once a worker hangs, and again until the loader's
  // hook has seen it (the main process may not be waiting yet): it closes its
  // end of `seen` then.
  char tmpl[] = "/tmp/ferry-sigint-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  int seen[2];
  ASSERT_EQ(pipe(seen), 0);
  const pid_t parent = getpid();
  const pid_t killer = fork();
  if (killer == 0) {
    close(seen[1]);
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    while (access((dir + "/hanging-0").c_str(), F_OK) != 0 && Clock::now() < deadline) usleep(1000);
    for (;;) {
      kill(parent, SIGINT);
      pollfd p{seen[0], POLLIN, 0};
      if (poll(&p, 1, 50) > 0 || Clock::now() > deadline) _exit(0);
    }
  }
  close(seen[0]);
  Clock::time_point interrupted_at;
  try {
    auto ds = std::make_shared<ScriptedDataset>(16);
    ds->marker_dir(dir).on(0, Misbehave::kHang);
    LoaderOptions o = options(2);
    o.on_interrupt = [&] {
      if (g_interrupted) {
        interrupted_at = Clock::now();
        close(seen[1]);
        throw std::runtime_error("KeyboardInterrupt");
      }
    };
    DataLoader loader(ds, o);
    drain(loader);
    ADD_FAILURE() << "no interrupt";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "KeyboardInterrupt");
    EXPECT_LT(seconds_since(interrupted_at), 2.0);
  }
  waitpid(killer, nullptr, 0);
  std::filesystem::remove_all(dir);
  sigaction(SIGINT, &old, nullptr);
  g_interrupted = 0;
  EXPECT_EQ(testing::wait_until_clean(before), "");
}

TEST(Failure, WorkersExitWithinOneSecondWhenTheMainProcessIsKilled) {
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  const pid_t main_process = fork();
  if (main_process == 0) {
    // The stand-in for a training process; it must never return into gtest.
    try {
      close(pipefd[0]);
      auto ds = std::make_shared<ScriptedDataset>(64);
      ds->on(10, Misbehave::kHang);
      DataLoader loader(ds, options(3));
      auto it = loader.begin();
      const auto pids = loader.worker_pids();
      (void)!write(pipefd[1], pids.data(), pids.size() * sizeof(int));
      close(pipefd[1]);
      for (;;) pause();
    } catch (...) {
      _exit(1);
    }
  }
  close(pipefd[1]);
  std::vector<int> workers(3);
  size_t got = 0;
  while (got < sizeof(int) * 3) {
    const ssize_t n = read(pipefd[0], reinterpret_cast<char*>(workers.data()) + got, sizeof(int) * 3 - got);
    if (n <= 0) break;
    got += size_t(n);
  }
  close(pipefd[0]);
  kill(main_process, SIGKILL);
  waitpid(main_process, nullptr, 0);
  ASSERT_EQ(got, sizeof(int) * 3) << "the main process did not report its workers";
  const auto start = Clock::now();
  for (int pid : workers) {
    while (testing::process_alive(pid) && seconds_since(start) < 3.0) usleep(10'000);
    EXPECT_FALSE(testing::process_alive(pid)) << "worker " << pid << " outlived its parent";
  }
  EXPECT_LT(seconds_since(start), 1.0);
}

TEST(Failure, BadSamplesFollowThePolicy) {
  auto ds = std::make_shared<ScriptedDataset>(12);
  ds->on(3, Misbehave::kBadSample).on(4, Misbehave::kBadSample);
  for (int workers : {0, 2}) {
    LoaderOptions o = options(workers, 6);
    o.on_bad_sample = OnBadSample::kSkip;
    DataLoader skip(ds, o);
    std::vector<int64_t> got;
    for (auto& b : skip)
      for (int64_t s = 0; s < b.size(); ++s) got.push_back(b["index"].data_as<int64_t>()[s]);
    // 3 and 4 are replaced by the next good sample in dataset order (5).
    EXPECT_EQ(got, (std::vector<int64_t>{0, 1, 2, 5, 5, 5, 6, 7, 8, 9, 10, 11}));
    EXPECT_EQ(skip.stats().skipped_samples, 2);  // 3 and 4, each once, though 3's replacement tried 4 too
    ASSERT_FALSE(skip.stats().bad_sample_messages.empty());
    EXPECT_NE(skip.stats().bad_sample_messages[0].find("/data/broken-3.jpg"), std::string::npos);

    o.on_bad_sample = OnBadSample::kSubstitute;
    DataLoader sub(ds, o);
    for (auto& b : sub) {
      if (b.index() != 0) continue;
      EXPECT_EQ(b["index"].data_as<int64_t>()[3], 0);
      EXPECT_EQ(b["random"].data_as<int64_t>()[4], 0);
    }
    EXPECT_EQ(sub.stats().substituted_samples, 2);

    o.on_bad_sample = OnBadSample::kError;
    DataLoader err(ds, o);
    try {
      drain(err);
      FAIL() << "no error";
    } catch (const SampleFailed& e) {
      EXPECT_EQ(e.sample_index(), 3);
      EXPECT_NE(std::string(e.what()).find("/data/broken-3.jpg: Not a JPEG file"), std::string::npos);
    }
  }
}

TEST(Failure, EachBadSampleIsCountedAndReportedOncePerEpoch) {
  // Runs of bad samples: each skip tries the following bad ones again as
  // replacements, which must not count them again.
  const std::set<int64_t> bad = {3, 4, 5, 6, 10, 11, 18, 19, 20, 29};
  auto ds = std::make_shared<ScriptedDataset>(30);
  for (int64_t i : bad) ds->on(i, Misbehave::kBadSample);
  for (int workers : {0, 2}) {
    SCOPED_TRACE(workers);
    LoaderOptions o = options(workers, 4);
    o.on_bad_sample = OnBadSample::kSkip;
    DataLoader loader(ds, o);
    drain(loader);
    EXPECT_EQ(loader.stats().skipped_samples, int64_t(bad.size()));
    std::multiset<int64_t> reported;
    for (const std::string& m : loader.stats().bad_sample_messages) reported.insert(parse_bad_sample_message(m).index);
    EXPECT_EQ(reported, std::multiset<int64_t>(bad.begin(), bad.end())) << "each bad sample once, with its index";
    drain(loader);
    EXPECT_EQ(loader.stats().skipped_samples, 2 * int64_t(bad.size())) << "once per epoch";

    o.on_bad_sample = OnBadSample::kSubstitute;
    DataLoader substitute(ds, o);
    drain(substitute);
    EXPECT_EQ(substitute.stats().substituted_samples, int64_t(bad.size()));
  }
}

TEST(Failure, BadSampleMessagesCarryTheIndexInOneLayout) {
  EXPECT_EQ(bad_sample_message(17, "/d/x.jpg: Not a JPEG file"), "sample 17: /d/x.jpg: Not a JPEG file");
  const BadSampleText t = parse_bad_sample_message("sample 17: /d/x.jpg: Not a JPEG file");
  EXPECT_EQ(t.index, 17);
  EXPECT_EQ(t.what, "/d/x.jpg: Not a JPEG file");
  for (const char* other : {"", "sample x: y", "sample 3 y", "Sample 3: y", "sample -3: y"}) {
    const BadSampleText o = parse_bad_sample_message(other);
    EXPECT_EQ(o.index, -1) << other;
    EXPECT_EQ(o.what, other);
  }
}

}  // namespace
}  // namespace ferry
