// Surviving faults and restarts: respawned workers and mid-epoch resume keep
// every sample exactly once with the bytes of an uninterrupted run.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>

#include "base/error.h"
#include "loader/data_loader.h"
#include "tests/support/batch_bytes.h"
#include "tests/support/process_census.h"
#include "tests/support/scripted_dataset.h"

namespace ferry {
namespace {

using testing::epoch_bytes;
using testing::Misbehave;
using testing::ScriptedDataset;

LoaderOptions options(int workers) {
  LoaderOptions o;
  o.batch_size = 4;
  o.num_workers = workers;
  o.shuffle = true;
  o.seed = 99;
  return o;
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/ferry-test-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(Respawn, WorkersKilledOnChosenSamplesAreReplacedAndTheEpochIsExact) {
  const auto before = testing::take_census();
  auto clean = std::make_shared<ScriptedDataset>(40, 32);
  DataLoader reference(clean, options(2));
  const auto expected = epoch_bytes(reference);

  TempDir markers;
  auto faulty = std::make_shared<ScriptedDataset>(40, 32);
  faulty->marker_dir(markers.path()).on(5, Misbehave::kKillSelfOnce).on(30, Misbehave::kKillSelfOnce);
  LoaderOptions o = options(2);
  o.on_worker_failure = OnWorkerFailure::kRespawn;
  {
    DataLoader loader(faulty, o);
    EXPECT_EQ(epoch_bytes(loader), expected);
    EXPECT_EQ(loader.stats().worker_respawns, 2);
  }
  EXPECT_EQ(testing::wait_until_clean(before), "");
}

TEST(Respawn, ASampleThatAlwaysKillsEndsInTheBudgetErrorNamingIt) {
  const auto before = testing::take_census();
  {
    auto ds = std::make_shared<ScriptedDataset>(40);
    ds->on(17, Misbehave::kKillSelf);
    LoaderOptions o = options(2);
    o.shuffle = false;
    o.on_worker_failure = OnWorkerFailure::kRespawn;
    o.max_respawns = 2;
    DataLoader loader(ds, o);
    try {
      epoch_bytes(loader);
      FAIL() << "no error";
    } catch (const WorkerCrashed& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("item 17 keeps killing workers"), std::string::npos) << what;
      EXPECT_NE(what.find("max_respawns=2"), std::string::npos) << what;
    }
  }
  EXPECT_EQ(testing::wait_until_clean(before), "");
}

TEST(Resume, RestoredLoaderContinuesByteForByteWithAnyWorkerCount) {
  auto ds = std::make_shared<ScriptedDataset>(30, 16);
  DataLoader reference(ds, options(2));
  const auto epoch0 = epoch_bytes(reference);
  const auto epoch1 = epoch_bytes(reference);
  const size_t n = epoch0.size();
  for (size_t k : {size_t(0), n / 2, n - 1, n}) {
    DataLoader first(ds, options(2));
    std::string saved;
    size_t seen = 0;
    if (k == 0) {
      saved = first.state().serialize();
    } else {
      for (auto& b : first) {
        EXPECT_EQ(testing::batch_bytes(b), epoch0[seen]);
        if (++seen == k) {
          saved = first.state().serialize();
          break;
        }
      }
    }
    for (int workers : {0, 1, 3}) {
      DataLoader restored(ds, options(workers));
      restored.load_state(LoaderState::parse(saved));
      std::vector<std::vector<uint8_t>> rest = epoch_bytes(restored);
      std::vector<std::vector<uint8_t>> want(epoch0.begin() + ptrdiff_t(k), epoch0.end());
      EXPECT_EQ(rest, want) << "k=" << k << " workers=" << workers;
      EXPECT_EQ(epoch_bytes(restored), epoch1) << "the next epoch after a resume";
    }
  }
}

TEST(Resume, StateTextRoundTripsAndMismatchesAreRejected) {
  LoaderState s;
  s.epoch = 3;
  s.seed = 7;
  s.batch_size = 64;
  s.dataset_size = 1000;
  s.consumed = {0, 1, 2, 3, 5, 9, 10};
  const std::string text = s.serialize();
  EXPECT_EQ(text, "ferry-state 1 epoch=3 seed=7 batch_size=64 dataset_size=1000 consumed=0-3,5,9-10");
  const LoaderState back = LoaderState::parse(text);
  EXPECT_EQ(back.consumed, s.consumed);
  EXPECT_EQ(back.epoch, 3u);
  EXPECT_THROW(LoaderState::parse("ferry-state 2 epoch=1"), InvalidOption);
  EXPECT_THROW(LoaderState::parse("hello"), InvalidOption);

  auto ds = std::make_shared<ScriptedDataset>(1000);
  LoaderOptions o;
  o.batch_size = 32;
  o.seed = 7;
  DataLoader loader(ds, o);
  try {
    loader.load_state(back);
    FAIL() << "accepted a state of another batch size";
  } catch (const InvalidOption& e) {
    EXPECT_NE(std::string(e.what()).find("batch_size=64"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ferry
