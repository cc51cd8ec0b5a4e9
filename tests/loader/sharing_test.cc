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

int ferry_segments() {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/dev/shm"))
    if (e.path().filename().string().rfind("ferry-", 0) == 0) ++n;
  return n;
}

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

  // And a real one: a main process SIGKILLed mid-epoch.
  const pid_t main_process = fork();
  if (main_process == 0) {
    try {
      auto ds = std::make_shared<ScriptedDataset>(64);
      ds->on(30, Misbehave::kHang);
      DataLoader loader(ds, fs_options(2));
      held_epoch(loader);
    } catch (...) {
    }
    _exit(1);
  }
  usleep(300'000);
  kill(main_process, SIGKILL);
  waitpid(main_process, nullptr, 0);
  usleep(100'000);  // its workers die with it (PDEATHSIG)

  auto ds = std::make_shared<ScriptedDataset>(8);
  DataLoader loader(ds, fs_options(1));
  held_epoch(loader);
  EXPECT_EQ(ferry_segments(), 0) << "stale segments of dead creators must be removed at start";
}

}  // namespace
}  // namespace ferry
