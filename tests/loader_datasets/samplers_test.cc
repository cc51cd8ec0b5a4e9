#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <numeric>

#include "base/error.h"
#include "loader/sampler.h"
#include "loader/samplers/batch_sampler.h"
#include "loader/samplers/distributed_sampler.h"
#include "loader/samplers/random_draw_sampler.h"
#include "loader/samplers/tar_shard_sampler.h"
#include "loader/samplers/weighted_random_sampler.h"

// Pinned orders below were cross-checked against an independent Python
// implementation of the specified rules (xoshiro256**, Lemire's below(),
// Fisher-Yates, the shuffle buffer), so they pin the spec, not just this code.

namespace ferry {
namespace {

std::vector<int64_t> sorted(std::vector<int64_t> v) {
  std::sort(v.begin(), v.end());
  return v;
}

std::vector<int64_t> iota(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

TEST(RandomDrawSampler, WithoutReplacementEqualsRandomSamplerAndRepeatsPermutationsPastN) {
  RandomDrawSampler s({.seed = 7});
  EXPECT_EQ(s.indices(3, 50), RandomSampler(7).indices(3, 50));
  RandomDrawSampler longer({.seed = 7, .num_samples = 25});
  const auto v = longer.indices(0, 10);
  ASSERT_EQ(v.size(), 25u);
  EXPECT_EQ(sorted({v.begin(), v.begin() + 10}), iota(10));
  EXPECT_EQ(sorted({v.begin() + 10, v.begin() + 20}), iota(10));
  EXPECT_EQ(std::vector<int64_t>(v.begin(), v.begin() + 10), RandomSampler(7).indices(0, 10));
  EXPECT_EQ(RandomDrawSampler({.seed = 7, .num_samples = 4}).indices(0, 10),
            std::vector<int64_t>(v.begin(), v.begin() + 4));
}

TEST(RandomDrawSampler, WithReplacementOrderIsPinned) {
  RandomDrawSampler s({.seed = 1, .replacement = Replacement::kWith, .num_samples = 8});
  const auto v = s.indices(0, 10);
  EXPECT_EQ(v, s.indices(0, 10));
  EXPECT_NE(v, s.indices(1, 10));
  EXPECT_EQ(v, (std::vector<int64_t>{7, 8, 2, 8, 7, 8, 5, 8}));
  EXPECT_EQ(s.length(10), 8);
  EXPECT_THROW(RandomDrawSampler({.num_samples = -2}), InvalidOption);
}

TEST(WeightedRandomSampler, DrawsInProportionToWeightsAndIsPinned) {
  WeightedRandomSampler s({1.0, 0.0, 3.0, 6.0}, 20000, Replacement::kWith, 5);
  const auto v = s.indices(0, 4);
  std::map<int64_t, int> counts;
  for (auto i : v) counts[i]++;
  EXPECT_EQ(counts[1], 0);
  EXPECT_NEAR(counts[0] / 20000.0, 0.1, 0.01);
  EXPECT_NEAR(counts[2] / 20000.0, 0.3, 0.015);
  EXPECT_NEAR(counts[3] / 20000.0, 0.6, 0.015);
  EXPECT_EQ(WeightedRandomSampler({1, 0, 3, 6}, 8, Replacement::kWith, 5).indices(0, 4),
            (std::vector<int64_t>{3, 3, 2, 3, 3, 3, 2, 2}));
}

TEST(WeightedRandomSampler, WithoutReplacementNeverRepeatsAndSkipsZeroWeights) {
  WeightedRandomSampler s({1, 0, 2, 3, 4, 0, 5}, 5, Replacement::kWithout, 9);
  for (uint64_t e = 0; e < 20; ++e) EXPECT_EQ(sorted(s.indices(e, 7)), (std::vector<int64_t>{0, 2, 3, 4, 6}));
  EXPECT_THROW(WeightedRandomSampler({1, 0}, 2, Replacement::kWithout), InvalidOption);
  EXPECT_THROW(WeightedRandomSampler({0, 0}, 1), InvalidOption);
  EXPECT_THROW(WeightedRandomSampler({1, -1}, 1), InvalidOption);
}

TEST(BatchSampler, CutsBatchesAndDropsOrKeepsTheLast) {
  auto seq = std::make_shared<SequentialSampler>();
  BatchSampler keep(seq, 4);
  const auto b = keep.batches(0, 10);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[2], (std::vector<int64_t>{8, 9}));
  EXPECT_EQ(BatchSampler(seq, 4, LastBatch::kDrop).batches(0, 10).size(), 2u);
  EXPECT_EQ(BatchSampler(seq, 4, LastBatch::kDrop).num_batches(10), 2);
  EXPECT_THROW(BatchSampler(seq, 0), InvalidOption);
}

// For every world size and a loader of 0..3 workers (the engine hands whole
// batches to workers, so a rank's indices are split by batch), the union over
// ranks and workers is the dataset exactly once, plus the documented padding.
TEST(DistributedSampler, RanksAreDisjointAndCoverTheDatasetForWorldSizes1247) {
  for (int64_t n : {1, 10, 97, 100}) {
    for (int world : {1, 2, 4, 7}) {
      for (Tail tail : {Tail::kPad, Tail::kDrop}) {
        auto inner = std::make_shared<RandomSampler>(42);
        std::map<int64_t, int> seen;
        int64_t per_rank = -1;
        for (int rank = 0; rank < world; ++rank) {
          DistributedSampler s(inner, rank, world, tail);
          const auto v = s.indices(3, n);
          ASSERT_EQ(static_cast<int64_t>(v.size()), s.length(n));
          if (per_rank >= 0) {
            ASSERT_EQ(static_cast<int64_t>(v.size()), per_rank) << "ranks must get equal counts";
          }
          per_rank = static_cast<int64_t>(v.size());
          for (int workers = 0; workers <= 3; ++workers) {
            const int w = std::max(workers, 1);
            std::vector<int64_t> by_workers;
            for (int k = 0; k < w; ++k) {
              for (size_t b = static_cast<size_t>(k) * 4; b < v.size(); b += static_cast<size_t>(w) * 4) {
                for (size_t j = b; j < std::min(v.size(), b + 4); ++j) by_workers.push_back(v[j]);
              }
            }
            ASSERT_EQ(sorted(by_workers), sorted(v));
          }
          for (auto i : v) seen[i]++;
        }
        const int64_t total = per_rank * world;
        if (tail == Tail::kPad) {
          ASSERT_EQ(static_cast<int64_t>(seen.size()), n) << "every index at least once";
          ASSERT_EQ(total, (n + world - 1) / world * world);
          ASSERT_LT(total - n, world) << "padding is less than one index per rank";
        } else {
          ASSERT_EQ(total, n / world * world);
          ASSERT_EQ(static_cast<int64_t>(seen.size()), total) << "no index twice";
        }
        for (auto& [i, c] : seen) ASSERT_LE(c, tail == Tail::kPad && n < world ? world : (tail == Tail::kPad ? 2 : 1));
      }
    }
  }
}

TEST(DistributedSampler, MatchesTorchsStridedSplitWithPaddingFromTheHead) {
  // torch: indices += indices[:pad]; rank r takes indices[r::world].
  auto seq = std::make_shared<SequentialSampler>();
  EXPECT_EQ(DistributedSampler(seq, 0, 4).indices(0, 10), (std::vector<int64_t>{0, 4, 8}));
  EXPECT_EQ(DistributedSampler(seq, 2, 4).indices(0, 10), (std::vector<int64_t>{2, 6, 0}));
  EXPECT_EQ(DistributedSampler(seq, 3, 4).indices(0, 10), (std::vector<int64_t>{3, 7, 1}));
  EXPECT_EQ(DistributedSampler(seq, 3, 4, Tail::kDrop).indices(0, 10), (std::vector<int64_t>{3, 7}));
  EXPECT_EQ(DistributedSampler(seq, 6, 7).indices(0, 2), (std::vector<int64_t>{0}));
  EXPECT_THROW(DistributedSampler(seq, 4, 4), InvalidOption);
  EXPECT_THROW(DistributedSampler(seq, 0, 0), InvalidOption);
}

TEST(DistributedSampler, SameSeedGivesTheSameOrderOnEveryRun) {
  DistributedSampler s(std::make_shared<RandomSampler>(0), 1, 2);
  EXPECT_EQ(s.indices(0, 8), (std::vector<int64_t>{7, 2, 5, 3}));  // RandomSampler(0) epoch 0 is 4 7 0 2 1 5 6 3
}

TEST(DistributedEnv, ReadsTorchrunThenSlurmAndSaysWhich) {
  std::map<std::string, std::string> env;
  auto get = [&](const char* n) -> const char* {
    auto it = env.find(n);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  auto e = detect_distributed_env(get);
  EXPECT_EQ(e.rank, 0);
  EXPECT_EQ(e.world_size, 1);
  EXPECT_NE(e.source.find("default"), std::string::npos);
  env = {{"SLURM_PROCID", "3"}, {"SLURM_NTASKS", "8"}, {"SLURM_LOCALID", "1"}};
  e = detect_distributed_env(get);
  EXPECT_EQ(e.rank, 3);
  EXPECT_EQ(e.world_size, 8);
  EXPECT_EQ(e.local_rank, 1);
  EXPECT_NE(e.source.find("SLURM"), std::string::npos);
  env["RANK"] = "1";
  env["WORLD_SIZE"] = "2";
  env["LOCAL_RANK"] = "1";
  e = detect_distributed_env(get);
  EXPECT_EQ(e.rank, 1);
  EXPECT_EQ(e.world_size, 2);
  EXPECT_NE(e.source.find("torchrun"), std::string::npos) << e.source;
  env["RANK"] = "2";
  EXPECT_THROW(detect_distributed_env(get), InvalidOption);
  env["RANK"] = "x";
  try {
    detect_distributed_env(get);
    FAIL();
  } catch (const InvalidOption& err) {
    EXPECT_NE(std::string(err.what()).find("RANK='x'"), std::string::npos);
  }
  env.erase("WORLD_SIZE");
  env["RANK"] = "0";
  EXPECT_THROW(detect_distributed_env(get), InvalidOption);
}

// Shard sizes 5, 3, 5, 5, ... (not all equal) for 20 shards.
std::vector<int64_t> shard_begins(int shards) {
  std::vector<int64_t> b{0};
  for (int s = 0; s < shards; ++s) b.push_back(b.back() + (s % 4 == 1 ? 3 : 5));
  return b;
}

TEST(TarShardSampler, RanksAndWorkersReadDisjointShardsCoveringEverything) {
  const auto begins = shard_begins(20);
  const int64_t n = begins.back();
  for (int world : {1, 2, 4, 7}) {
    for (int64_t buffer : {0, 7}) {
      std::vector<int64_t> all;
      std::vector<int64_t> all_shards;
      for (int rank = 0; rank < world; ++rank) {
        TarShardSampler s(
            begins,
            {.rank = rank, .world_size = world, .seed = 3, .shuffle_buffer = buffer, .tail = ShardTail::kUneven});
        const auto v = s.indices(2, n);
        all.insert(all.end(), v.begin(), v.end());
        for (int workers = 1; workers <= 3; ++workers) {
          std::vector<int64_t> by_worker;
          for (int w = 0; w < workers; ++w) {
            const auto shards = s.shards_for_worker(2, w, workers);
            by_worker.insert(by_worker.end(), shards.begin(), shards.end());
          }
          ASSERT_EQ(sorted(by_worker), sorted(s.shards_for_rank(2)));
        }
        const auto mine = s.shards_for_rank(2);
        all_shards.insert(all_shards.end(), mine.begin(), mine.end());
      }
      ASSERT_EQ(sorted(all), iota(n)) << "world " << world;
      ASSERT_EQ(sorted(all_shards), iota(20));
    }
  }
}

TEST(TarShardSampler, PadAndDropGiveEveryRankTheSameEpochIndependentCount) {
  const auto begins = shard_begins(20);
  for (int world : {2, 4, 7}) {
    for (ShardTail tail : {ShardTail::kPad, ShardTail::kDrop}) {
      for (uint64_t epoch = 0; epoch < 3; ++epoch) {
        std::map<int64_t, int> seen;
        int64_t len = -1;
        for (int rank = 0; rank < world; ++rank) {
          TarShardSampler s(begins, {.rank = rank, .world_size = world, .seed = 1, .tail = tail});
          const auto v = s.indices(epoch, begins.back());
          ASSERT_EQ(static_cast<int64_t>(v.size()), s.length(begins.back()));
          if (len >= 0) {
            ASSERT_EQ(static_cast<int64_t>(v.size()), len);
          }
          len = static_cast<int64_t>(v.size());
          for (auto i : v) seen[i]++;
        }
        if (tail == ShardTail::kPad) {
          ASSERT_EQ(static_cast<int64_t>(seen.size()), begins.back());
        }
        if (tail == ShardTail::kDrop) {
          for (auto& [i, c] : seen) ASSERT_EQ(c, 1);
        }
      }
    }
  }
}

TEST(TarShardSampler, ShuffleIsBoundedDeterministicAndPinned) {
  std::vector<int64_t> begins{0, 10, 20, 30, 40};
  TarShardSampler s(begins, {.seed = 11, .order = ShardOrder::kInOrder, .shuffle_buffer = 4});
  const auto v = s.indices(0, 40);
  EXPECT_EQ(v, s.indices(0, 40));
  EXPECT_NE(v, s.indices(1, 40));
  EXPECT_EQ(sorted(v), iota(40));
  for (size_t k = 0; k < v.size(); ++k)
    EXPECT_LT(v[k], static_cast<int64_t>(k) + 4) << "a sample moves ahead by < buffer";
  EXPECT_EQ(std::vector<int64_t>(v.begin(), v.begin() + 8), (std::vector<int64_t>{2, 4, 3, 1, 0, 6, 5, 10}));
  TarShardSampler shuffled(begins, {.seed = 11, .shuffle_buffer = 0});
  EXPECT_EQ(shuffled.shards_for_rank(0), (std::vector<int64_t>{2, 0, 3, 1}));
  EXPECT_THROW(TarShardSampler(begins, {.rank = 0, .world_size = 5}), InvalidOption);
  EXPECT_THROW(s.indices(0, 41), InvalidOption);
}

}  // namespace
}  // namespace ferry
