// The file_system sharing strategy: named /dev/shm segments that never
// outlive the processes that use them.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "base/error.h"
#include "loader/data_loader.h"
#include "tests/support/batch_bytes.h"
#include "tests/support/process_census.h"
#include "tests/support/scripted_dataset.h"

namespace ferry {
namespace {

using testing::Misbehave;
using testing::ScriptedDataset;

LoaderOptions fs_options(int workers) {
  LoaderOptions o;
  o.batch_size = 4;
  o.num_workers = workers;
  o.seed = 3;
  o.shuffle = true;
  o.sharing = Sharing::kFileSystem;
  o.prefetch_factor = 1;
  return o;
}

std::vector<std::vector<uint8_t>> held_epoch(DataLoader& loader) {
  // Holding every batch forces one-off segments once the slots run out.
  std::vector<Batch> held;
  for (auto& b : loader) held.push_back(std::move(b));
  std::vector<std::vector<uint8_t>> out;
  for (const auto& b : held) out.push_back(testing::batch_bytes(b));
  return out;
}

// Ferry's names of this process tree (and of dead creators) only.
int ferry_segments() { return int(testing::take_census().shm_entries.size()); }

TEST(Sharing, FileSystemGivesTheSameBytesAndLeavesNoSegment) {
  const auto before = testing::take_census();
  {
    auto ds = std::make_shared<ScriptedDataset>(40, 300);
    DataLoader by_name(ds, fs_options(2));
    LoaderOptions o = fs_options(2);
    o.sharing = Sharing::kFileDescriptor;
    DataLoader by_fd(ds, o);
    EXPECT_EQ(held_epoch(by_name), held_epoch(by_fd));
    EXPECT_GT(by_name.stats().one_off_segments, 0);
    EXPECT_EQ(ferry_segments(), 0) << "segments must be unlinked as soon as both sides map them";
  }
  EXPECT_EQ(testing::wait_until_clean(before), "");
}

TEST(Sharing, SpawnedWorkersUseNamedSegmentsToo) {
  auto ds = std::make_shared<ScriptedDataset>(24, 100);
  ds->spawnable();
  LoaderOptions o = fs_options(2);
  o.start_method = StartMethod::kSpawn;
  o.plugins = {FERRY_TEST_PLUGIN};
  DataLoader loader(ds, o);
  EXPECT_EQ(held_epoch(loader).size(), 6u);
  EXPECT_EQ(ferry_segments(), 0);
}

TEST(Sharing, AKilledWorkerLeavesNoSegment) {
  {
    auto ds = std::make_shared<ScriptedDataset>(40);
    ds->on(21, Misbehave::kKillSelf);
    DataLoader loader(ds, fs_options(2));
    EXPECT_THROW(held_epoch(loader), WorkerCrashed);
  }
  EXPECT_EQ(ferry_segments(), 0);
}

TEST(Sharing, SegmentsOfAKilledMainProcessAreReapedByTheNextLoader) {
  // A main process that dies between creating a segment and unlinking it
  // leaves a name behind; make one for a pid that is certainly dead.
  const pid_t dead = fork();
  if (dead == 0) _exit(0);
  waitpid(dead, nullptr, 0);
  const std::string name = "/ferry-" + std::to_string(dead) + "-00c0ffee00c0ffee-w0-slots-0";
  const int fd = shm_open(name.c_str(), O_CREAT | O_RDWR, 0600);
  ASSERT_GE(fd, 0);
  close(fd);
  ASSERT_GE(ferry_segments(), 1);

  // And a real one: a main process SIGKILLed mid-epoch, once a worker hangs
  // at sample 30 (the batches before it sit in one-off segments by then).
  char tmpl[] = "/tmp/ferry-sharing-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  int pids_pipe[2];
  ASSERT_EQ(pipe(pids_pipe), 0);
  const pid_t main_process = fork();
  if (main_process == 0) {
    try {
      close(pids_pipe[0]);
      auto ds = std::make_shared<ScriptedDataset>(64);
      ds->marker_dir(dir).on(30, Misbehave::kHang);
      LoaderOptions o = fs_options(2);
      o.shuffle = false;
      DataLoader loader(ds, o);
      auto it = loader.begin();
      const std::vector<int> pids = loader.worker_pids();
      (void)!write(pids_pipe[1], pids.data(), pids.size() * sizeof(int));
      close(pids_pipe[1]);
      std::vector<Batch> held;
      for (; it != loader.end(); ++it) held.push_back(std::move(*it));
    } catch (...) {
    }
    _exit(1);
  }
  close(pids_pipe[1]);
  std::vector<int> workers(2);
  ASSERT_EQ(read(pids_pipe[0], workers.data(), 2 * sizeof(int)), ssize_t(2 * sizeof(int)));
  close(pids_pipe[0]);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!std::filesystem::exists(dir + "/hanging-30") && std::chrono::steady_clock::now() < deadline) usleep(1000);
  ASSERT_TRUE(std::filesystem::exists(dir + "/hanging-30"));
  kill(main_process, SIGKILL);
  waitpid(main_process, nullptr, 0);
  for (int pid : workers)  // they die with it
    while (testing::process_alive(pid) && std::chrono::steady_clock::now() < deadline) usleep(1000);
  std::filesystem::remove_all(dir);

  auto ds = std::make_shared<ScriptedDataset>(8);
  DataLoader loader(ds, fs_options(1));
  held_epoch(loader);
  EXPECT_EQ(ferry_segments(), 0) << "stale segments of dead creators must be removed at start";
}

}  // namespace
}  // namespace ferry
