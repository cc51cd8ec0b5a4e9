#include "loader/data_loader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>

#include "base/error.h"
#include "tests/support/batch_bytes.h"
#include "tests/support/process_census.h"
#include "tests/support/scripted_dataset.h"

namespace ferry {
namespace {

using testing::Misbehave;
using testing::ScriptedDataset;

struct Collected {
  std::vector<int64_t> indices;
  std::vector<std::vector<uint8_t>> batch_bytes;  // every field's bytes, per batch
};

Collected run_epoch(DataLoader& loader) {
  Collected c;
  for (auto& batch : loader) {
    const auto* idx = batch["index"].data_as<int64_t>();
    c.indices.insert(c.indices.end(), idx, idx + batch.size());
    c.batch_bytes.push_back(testing::batch_bytes(batch));
  }
  return c;
}

LoaderOptions options(int workers, int64_t batch = 4) {
  LoaderOptions o;
  o.batch_size = batch;
  o.num_workers = workers;
  o.seed = 1234;
  return o;
}

TEST(DataLoader, EveryIndexExactlyOnceInSamplerOrderForZeroToFourWorkers) {
  for (int workers = 0; workers <= 4; ++workers) {
    for (bool shuffle : {false, true}) {
      for (bool drop_last : {false, true}) {
        auto ds = std::make_shared<ScriptedDataset>(23);
        LoaderOptions o = options(workers, 4);
        o.shuffle = shuffle;
        o.drop_last = drop_last;
        DataLoader loader(ds, o);
        const auto got = run_epoch(loader).indices;
        std::vector<int64_t> expected =
            shuffle ? RandomSampler(o.seed).indices(0, 23) : SequentialSampler().indices(0, 23);
        if (drop_last) expected.resize(20);
        EXPECT_EQ(got, expected) << "workers=" << workers << " shuffle=" << shuffle << " drop_last=" << drop_last;
        EXPECT_EQ(loader.size(), drop_last ? 5 : 6);
      }
    }
  }
}

TEST(DataLoader, BatchesAreBitIdenticalForZeroOneAndManyWorkers) {
  std::vector<Collected> runs;
  for (int workers : {0, 1, 3}) {
    for (int threads : {1, 3}) {
      auto ds = std::make_shared<ScriptedDataset>(50, 100, 8);
      LoaderOptions o = options(workers, 8);
      o.shuffle = true;
      o.threads_per_worker = threads;
      DataLoader loader(ds, o);
      run_epoch(loader);                  // epoch 0
      runs.push_back(run_epoch(loader));  // epoch 1
    }
  }
  for (size_t i = 1; i < runs.size(); ++i) EXPECT_EQ(runs[i].batch_bytes, runs[0].batch_bytes) << "run " << i;
}

TEST(DataLoader, NewEpochReshufflesDeterministically) {
  auto ds = std::make_shared<ScriptedDataset>(40);
  LoaderOptions o = options(2);
  o.shuffle = true;
  DataLoader a(ds, o), b(ds, o);
  const auto a0 = run_epoch(a).indices, a1 = run_epoch(a).indices;
  const auto b0 = run_epoch(b).indices;
  EXPECT_EQ(a0, b0);
  EXPECT_NE(a0, a1);
}

TEST(DataLoader, FieldPointersLieInsideTheWorkersSharedMemory) {
  auto ds = std::make_shared<ScriptedDataset>(16, 4096);
  DataLoader loader(ds, options(2));
  std::ifstream maps("/proc/self/maps");
  for (auto& batch : loader) {
    const auto addr = reinterpret_cast<uintptr_t>(batch["payload"].data);
    bool inside = false;
    std::ifstream m("/proc/self/maps");
    for (std::string line; std::getline(m, line);) {
      if (line.find("/memfd:ferry-w") == std::string::npos || line.find("-slots") == std::string::npos) continue;
      uintptr_t lo = 0, hi = 0;
      std::sscanf(line.c_str(), "%lx-%lx", &lo, &hi);
      inside |= addr >= lo && addr + batch["payload"].nbytes() <= hi;
    }
    EXPECT_TRUE(inside) << "payload at " << std::hex << addr << " is not in a worker slot arena";
  }
}

TEST(DataLoader, RaggedFieldsHoldEachSamplesValuesWithOffsets) {
  for (int workers : {0, 2}) {
    // Capacity 4 per sample while samples have up to 12 tokens: some samples
    // overflow their place and some batches outgrow the slot entirely.
    auto ds = std::make_shared<ScriptedDataset>(30, 8, 4);
    DataLoader loader(ds, options(workers, 5));
    for (auto& batch : loader) {
      const auto& f = batch.field("tokens");
      ASSERT_TRUE(f.ragged);
      const auto* off = f.offsets.data_as<int64_t>();
      const auto* val = f.values.data_as<int32_t>();
      const auto* idx = batch["index"].data_as<int64_t>();
      ASSERT_EQ(off[0], 0);
      for (int64_t s = 0; s < batch.size(); ++s) {
        ASSERT_EQ(off[s + 1] - off[s], ScriptedDataset::tokens_for(idx[s]));
        for (int64_t t = off[s]; t < off[s + 1]; ++t) ASSERT_EQ(val[t], idx[s] * 100 + (t - off[s]));
      }
      EXPECT_EQ(f.values.shape[0], off[batch.size()]);
    }
  }
}

TEST(DataLoader, OutOfOrderYieldsEveryBatchOnce) {
  auto ds = std::make_shared<ScriptedDataset>(64);
  ds->on(0, Misbehave::kSleep50ms);
  LoaderOptions o = options(3, 4);
  o.in_order = false;
  DataLoader loader(ds, o);
  auto got = run_epoch(loader).indices;
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, SequentialSampler().indices(0, 64));
}

TEST(DataLoader, ConsumerHoldingEveryBatchStillGetsTheRest) {
  auto ds = std::make_shared<ScriptedDataset>(40, 1000);
  LoaderOptions o = options(1, 2);
  o.prefetch_factor = 1;
  DataLoader loader(ds, o);
  std::vector<Batch> held;
  for (auto& batch : loader) held.push_back(std::move(batch));
  ASSERT_EQ(held.size(), 20u);
  for (size_t b = 0; b < held.size(); ++b) EXPECT_EQ(held[b]["index"].data_as<int64_t>()[0], int64_t(b * 2));
  EXPECT_GT(loader.stats().one_off_segments, 0);
}

TEST(DataLoader, InvalidOptionsAreRejectedNamingTheOption) {
  auto ds = std::make_shared<ScriptedDataset>(4);
  auto expect_message = [&](LoaderOptions o, const std::string& needle) {
    try {
      DataLoader loader(ds, o);
      FAIL() << "accepted invalid options (" << needle << ")";
    } catch (const InvalidOption& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  LoaderOptions o;
  o.batch_size = 0;
  expect_message(o, "batch_size must be in [1, 16777216], got 0");
  o = {};
  o.num_workers = -1;
  expect_message(o, "num_workers");
  o = {};
  o.prefetch_factor = 0;
  expect_message(o, "prefetch_factor");
  o = {};
  o.persistent_workers = true;
  expect_message(o, "persistent_workers");
  o = {};
  o.num_workers = 2;
  o.prefetch_factor = 4;
  o.slots_per_worker = 2;
  expect_message(o, "slots_per_worker");
}

TEST(DataLoader, WorkerInitHookRunsInEachWorkerWithItsSeed) {
  auto ds = std::make_shared<ScriptedDataset>(12);
  LoaderOptions o = options(2, 3);
  o.worker_init = [](int worker_id, uint64_t seed) {
    ScriptedDataset::init_mark = 1000 + worker_id + int64_t(seed % 7) * 0;
  };
  DataLoader loader(ds, o);
  std::set<int64_t> marks;
  for (auto& batch : loader)
    for (int64_t s = 0; s < batch.size(); ++s) marks.insert(batch["init"].data_as<int64_t>()[s]);
  EXPECT_EQ(ScriptedDataset::init_mark, 0) << "the hook must run in the workers, not here";
  for (int64_t m : marks) EXPECT_TRUE(m == 1000 || m == 1001) << m;
}

TEST(DataLoader, PersistentWorkersSurviveEpochsOthersAreRestarted) {
  auto ds = std::make_shared<ScriptedDataset>(8);
  LoaderOptions o = options(2, 2);
  o.persistent_workers = true;
  DataLoader loader(ds, o);
  run_epoch(loader);
  const auto pids = loader.worker_pids();
  run_epoch(loader);
  EXPECT_EQ(loader.worker_pids(), pids);
  EXPECT_EQ(loader.stats().worker_starts, 1);

  o.persistent_workers = false;
  DataLoader fresh(ds, o);
  run_epoch(fresh);
  run_epoch(fresh);
  EXPECT_EQ(fresh.stats().worker_starts, 2);
  EXPECT_TRUE(fresh.worker_pids().empty());
}

TEST(DataLoader, WorkersCarryRecognisableProcessNames) {
  auto ds = std::make_shared<ScriptedDataset>(8);
  DataLoader loader(ds, options(2, 2));
  auto it = loader.begin();
  const auto pids = loader.worker_pids();
  ASSERT_EQ(pids.size(), 2u);
  EXPECT_EQ(testing::process_name(pids[0]), "ferry-w0");
  EXPECT_EQ(testing::process_name(pids[1]), "ferry-w1");
}

TEST(DataLoader, StatsCountSamplesBatchesAndStageTime) {
  auto ds = std::make_shared<ScriptedDataset>(20);
  DataLoader loader(ds, options(2, 5));
  run_epoch(loader);
  const auto s = loader.stats();
  EXPECT_EQ(s.batches, 4);
  EXPECT_EQ(s.samples, 20);
  EXPECT_EQ(s.batch_latency_ns.size(), 4u);
  EXPECT_GT(s.worker_start_ns, 0u);
  EXPECT_NE(loader.describe().find("ScriptedDataset(20)"), std::string::npos);
}

}  // namespace
}  // namespace ferry
