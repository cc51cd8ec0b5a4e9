// TarShardIterable: tar shards read as lanes of an iterable dataset.
#include "loader/datasets/tar_shard_iterable.h"

#include <gtest/gtest.h>

#include <set>

#include "base/error.h"
#include "loader/data_loader.h"
#include "loader/datasets/tar_shards.h"
#include "loader/samplers/tar_shard_sampler.h"
#include "tests/loader_datasets/test_data.h"

namespace ferry {
namespace {

using testing::TarWriter;
using testing::TempDir;
using testing::write_file;

// 6 shards of 7 samples; sample k of shard s has bytes "s-k" and label s*10+k.
std::string make_shards(const TempDir& d) {
  for (int s = 0; s < 6; ++s) {
    TarWriter t;
    for (int k = 0; k < 7; ++k) {
      const std::string key = "s" + std::to_string(s) + "/" + std::to_string(k);
      t.add_text(key + ".cls", std::to_string(s * 10 + k));
      t.add_text(key + ".jpg", std::to_string(s) + "-" + std::to_string(k));
    }
    write_file(d / ("shard-" + std::to_string(s) + ".tar"), t.finish());
  }
  return d / "shard-{0..5}.tar";
}

transforms::PipelineSpec raw() {
  transforms::PipelineSpec p;
  p.name = "raw";
  return p;
}

LoaderOptions options(int workers) {
  LoaderOptions o;
  o.batch_size = 3;
  o.num_workers = workers;
  o.seed = 5;
  return o;
}

std::vector<int64_t> labels(DataLoader& loader) {
  std::vector<int64_t> out;
  for (auto& b : loader)
    for (int64_t i = 0; i < b.size(); ++i) out.push_back(b["label"].data_as<int64_t>()[i]);
  return out;
}

std::vector<std::vector<uint8_t>> epoch(DataLoader& loader) {
  std::vector<std::vector<uint8_t>> out;
  for (auto& b : loader) {
    const auto& f = b.field("bytes");
    auto* p = static_cast<const uint8_t*>(f.values.data);
    out.emplace_back(p, p + f.values.nbytes());
    auto* l = b["label"].data_as<uint8_t>();
    out.back().insert(out.back().end(), l, l + b["label"].nbytes());
  }
  return out;
}

TEST(TarShardIterable, EverySampleOnceAndTheSameBatchesForAnyWorkerCount) {
  TempDir d;
  const std::string pattern = make_shards(d);
  auto ds =
      std::make_shared<TarShardIterable>(pattern, raw(), TarShardIterableOptions{.streams = 3, .shuffle_buffer = 4});
  EXPECT_EQ(ds->streams(0, 2), 3);
  DataLoader in_thread(ds, options(0));
  const auto want = epoch(in_thread);
  std::vector<int64_t> got = labels(in_thread);  // epoch 1: another shard order
  EXPECT_EQ(got.size(), 42u);
  EXPECT_EQ(std::set(got.begin(), got.end()).size(), 42u);
  for (int workers : {1, 2, 4}) {
    DataLoader loader(ds, options(workers));
    EXPECT_EQ(epoch(loader), want) << "workers=" << workers;
  }
}

TEST(TarShardIterable, ALaneYieldsTheShardSamplersStreamOfItsShards) {
  // The same rule as the map-style TarShardSampler: one specification.
  TempDir d;
  const std::string pattern = make_shards(d);
  TarShardIterable ds(pattern, raw(), {.streams = 2, .shuffle_buffer = 5});
  for (int64_t lane = 0; lane < 2; ++lane) {
    const auto paths = ds.shards_of(lane, 3, 5);
    TarShards map_style(paths);
    TarShardSampler sampler(map_style, {.seed = 5, .order = ShardOrder::kInOrder, .shuffle_buffer = 5});
    std::vector<int64_t> shards(paths.size());
    for (size_t i = 0; i < shards.size(); ++i) shards[i] = int64_t(i);
    std::vector<int64_t> want;
    for (int64_t i : sampler.stream(shards, 3, uint64_t(lane))) want.push_back(map_style.label(i));
    StreamContext ctx{.stream = lane, .epoch = 3, .seed = 5};
    auto stream = ds.open(ctx);
    std::vector<int64_t> got;
    struct Writer final : SampleWriter {
      std::vector<uint8_t> bytes;
      int64_t label = 0;
      void* fixed(size_t) override { return &label; }
      void* ragged(size_t, int64_t n) override {
        bytes.resize(size_t(n));
        return bytes.data();
      }
    } w;
    SampleContext sc;
    while (stream->next(sc, w)) got.push_back(w.label);
    EXPECT_EQ(got, want) << "lane " << lane;
  }
}

TEST(TarShardIterable, RanksReadDisjointShardsCoveringEverything) {
  TempDir d;
  const std::string pattern = make_shards(d);
  std::multiset<int64_t> all;
  for (int rank = 0; rank < 2; ++rank) {
    auto ds = std::make_shared<TarShardIterable>(pattern, raw(),
                                                 TarShardIterableOptions{.streams = 2, .rank = rank, .world_size = 2});
    DataLoader loader(ds, options(2));
    for (int64_t l : labels(loader)) all.insert(l);
  }
  EXPECT_EQ(all.size(), 42u);
  EXPECT_EQ(std::set(all.begin(), all.end()).size(), 42u);
  EXPECT_THROW(TarShardIterable(pattern, raw(), {.rank = 0, .world_size = 7}), InvalidOption);
}

TEST(TarShardIterable, AResumedRunContinuesExactly) {
  TempDir d;
  const std::string pattern = make_shards(d);
  auto ds =
      std::make_shared<TarShardIterable>(pattern, raw(), TarShardIterableOptions{.streams = 3, .shuffle_buffer = 6});
  DataLoader reference(ds, options(2));
  const auto all = epoch(reference);
  DataLoader first(ds, options(2));
  std::string saved;
  size_t n = 0;
  for (auto& b : first) {
    (void)b;
    if (++n == 5) {
      saved = first.state().serialize();
      break;
    }
  }
  for (int workers : {0, 3}) {
    DataLoader resumed(ds, options(workers));
    resumed.load_state(LoaderState::parse(saved));
    EXPECT_EQ(epoch(resumed), std::vector(all.begin() + 5, all.end())) << "workers=" << workers;
  }
}

TEST(TarShardIterable, SpawnedWorkersRebuildItAndGiveTheSameBatches) {
  TempDir d;
  const std::string pattern = make_shards(d);
  auto ds =
      std::make_shared<TarShardIterable>(pattern, raw(), TarShardIterableOptions{.streams = 3, .shuffle_buffer = 4});
  ASSERT_EQ(ds->spec().kind, "tar-stream");
  LoaderOptions o = options(2);
  DataLoader forked(ds, o);
  o.start_method = StartMethod::kSpawn;
  DataLoader spawned(ds, o);
  EXPECT_EQ(epoch(spawned), epoch(forked));
  EXPECT_EQ(spawned.stats().start_method, "spawn");
}

}  // namespace
}  // namespace ferry
