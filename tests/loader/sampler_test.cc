#include "loader/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace ferry {
namespace {

TEST(Sampler, SequentialVisitsEveryIndexInOrder) {
  auto v = SequentialSampler().indices(0, 5);
  EXPECT_EQ(v, (std::vector<int64_t>{0, 1, 2, 3, 4}));
}

TEST(Sampler, RandomIsAPermutationThatChangesWithEpochButNotWithRun) {
  RandomSampler s(123);
  auto e0 = s.indices(0, 1000), e0again = s.indices(0, 1000), e1 = s.indices(1, 1000);
  EXPECT_EQ(e0, e0again);
  EXPECT_NE(e0, e1);
  auto sorted = e0;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 1000; ++i) ASSERT_EQ(sorted[static_cast<size_t>(i)], i);
}

TEST(Sampler, RandomOrderIsPinned) {
  // The permutation rule is part of the specification (same order on every
  // machine); this pins it.
  EXPECT_EQ(RandomSampler(0).indices(0, 8), (std::vector<int64_t>{4, 7, 0, 2, 1, 5, 6, 3}));
}

}  // namespace
}  // namespace ferry
