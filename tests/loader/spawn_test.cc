// The spawn start method: fresh worker processes that rebuild the pipeline
// from its spec, safe where fork is not (a process with threads).
#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "base/error.h"
#include "loader/builtin_datasets.h"
#include "loader/data_loader.h"
#include "loader/detail/spawn_payload.h"
#include "tests/support/batch_bytes.h"
#include "tests/support/process_census.h"
#include "tests/support/scripted_dataset.h"
#include "tests/support/test_conditions.h"
#include "tools/gen_sample/sample_data.h"

namespace ferry {
namespace {

using testing::epoch_bytes;
using testing::ExtraThread;
using testing::Misbehave;
using testing::ScriptedDataset;

LoaderOptions spawn_options(int workers) {
  LoaderOptions o;
  o.batch_size = 5;
  o.num_workers = workers;
  o.shuffle = true;
  o.seed = 5;
  o.start_method = StartMethod::kSpawn;
  o.plugins = {FERRY_TEST_PLUGIN};
  return o;
}

TEST(Spawn, WorkerArgsComeBeforeFerrysOwnArguments) {
  // A launcher in front of the worker, as an interpreter would be: the shell
  // runs its first operand with the rest, so ferry's own arguments must come
  // after worker_args for the real worker to receive them.
  auto ds = std::make_shared<ScriptedDataset>(12, 40);
  ds->spawnable();
  LoaderOptions o = spawn_options(2);
  o.worker_executable = "/bin/sh";
  o.worker_args = {"-c", "exec \"$0\" \"$@\"", detail::find_worker_executable("")};
  DataLoader spawned(ds, o);
  o.worker_executable.clear();
  o.worker_args.clear();
  DataLoader direct(ds, o);
  EXPECT_EQ(epoch_bytes(spawned), epoch_bytes(direct));
}

TEST(Spawn, SpawnedAndForkedWorkersGiveIdenticalBatches) {
  const auto before = testing::take_census();
  {
    auto ds = std::make_shared<ScriptedDataset>(33, 40, 6);
    ds->spawnable();
    LoaderOptions o = spawn_options(2);
    DataLoader spawned(ds, o);
    o.start_method = StartMethod::kFork;
    DataLoader forked(ds, o);
    EXPECT_EQ(epoch_bytes(spawned), epoch_bytes(forked));
    EXPECT_EQ(spawned.stats().start_method, "spawn");
    EXPECT_EQ(forked.stats().start_method, "fork");
  }
  EXPECT_EQ(testing::wait_until_clean(before), "");
}

TEST(Spawn, AutoSpawnsFromAProcessThatRunsOtherThreads) {
  auto ds = std::make_shared<ScriptedDataset>(20);
  ds->spawnable();
  LoaderOptions o = spawn_options(2);
  o.start_method = StartMethod::kAuto;
  ExtraThread busy;
  DataLoader loader(ds, o);
  EXPECT_EQ(epoch_bytes(loader).size(), 4u);
  EXPECT_EQ(loader.stats().start_method, "spawn");
}

TEST(Spawn, UnsafeForkIsRefusedWithTheReasonAndTheAlternative) {
  auto ds = std::make_shared<ScriptedDataset>(20);
  LoaderOptions o = spawn_options(2);
  o.start_method = StartMethod::kFork;
  ExtraThread busy;
  DataLoader loader(ds, o);
  try {
    epoch_bytes(loader);
    FAIL() << "forked from a multi-threaded process";
  } catch (const InvalidOption& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("start_method=fork is unsafe here"), std::string::npos) << what;
    EXPECT_NE(what.find("Use start_method=spawn"), std::string::npos) << what;
  }
}

TEST(Spawn, ADatasetWithoutSpecIsRefusedNamingTheFix) {
  auto ds = std::make_shared<ScriptedDataset>(20);  // not spawnable
  DataLoader loader(ds, spawn_options(1));
  try {
    epoch_bytes(loader);
    FAIL() << "spawned a dataset it cannot rebuild";
  } catch (const InvalidOption& e) {
    EXPECT_NE(std::string(e.what()).find("implement Dataset::spec()"), std::string::npos) << e.what();
  }
}

TEST(Spawn, AMissingPluginFailsTheStartWithTheLoaderMessage) {
  auto ds = std::make_shared<ScriptedDataset>(20);
  ds->spawnable();
  LoaderOptions o = spawn_options(1);
  o.plugins = {"/nonexistent/libplugin.so"};
  DataLoader loader(ds, o);
  try {
    epoch_bytes(loader);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("loading plugin /nonexistent/libplugin.so failed"), std::string::npos)
        << e.what();
  }
}

TEST(Spawn, SpawnedWorkerCrashIsReportedAndRespawnKeepsTheEpochExact) {
  const auto before = testing::take_census();
  {
    auto ds = std::make_shared<ScriptedDataset>(30);
    ds->spawnable().on(12, Misbehave::kKillSelf);
    DataLoader loader(ds, spawn_options(2));
    EXPECT_THROW(epoch_bytes(loader), WorkerCrashed);
  }
  {
    char tmpl[] = "/tmp/ferry-spawn-XXXXXX";
    const std::string dir = mkdtemp(tmpl);
    auto clean = std::make_shared<ScriptedDataset>(30);
    clean->spawnable();
    auto faulty = std::make_shared<ScriptedDataset>(30);
    faulty->spawnable().marker_dir(dir).on(12, Misbehave::kKillSelfOnce);
    LoaderOptions o = spawn_options(2);
    DataLoader reference(clean, o);
    o.on_worker_failure = OnWorkerFailure::kRespawn;
    DataLoader loader(faulty, o);
    EXPECT_EQ(epoch_bytes(loader), epoch_bytes(reference));
    EXPECT_EQ(loader.stats().worker_respawns, 1);
    std::string cleanup = "rm -rf " + dir;
    EXPECT_EQ(std::system(cleanup.c_str()), 0);
  }
  EXPECT_EQ(testing::wait_until_clean(before), "");
}

TEST(Spawn, FilesChangedSinceTheLoaderWasMadeAreAnErrorNotShiftedSamples) {
  char tmpl[] = "/tmp/ferry-spawn-files-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  sample::write_image_folder(dir, 6, 2, 1);
  auto ds = open_raw_dataset(dir);  // indexes 6 files here
  {
    std::ofstream extra(dir + "/class_000/zz_added.jpg");
    extra << "not indexed by the main process";
  }
  LoaderOptions o;
  o.batch_size = 2;
  o.num_workers = 1;
  o.start_method = StartMethod::kSpawn;
  DataLoader loader(ds, o);
  try {
    epoch_bytes(loader);
    FAIL() << "the worker's dataset silently differed from the main process's";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("has 7 samples in the spawned worker but 6 in the main process"),
              std::string::npos)
        << e.what();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ferry
