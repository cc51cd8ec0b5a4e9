#include "base/rng.h"

#include <gtest/gtest.h>

#include <set>

namespace ferry {
namespace {

TEST(Rng, SameSeedGivesSameSequence) {
  Rng a(42), b(42);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.next_u64(), b.next_u64());
}

TEST(Rng, KnownValuesAreStableAcrossBuilds) {
  // Pinned output: a change here changes every augmentation and shuffle.
  Rng r(0);
  EXPECT_EQ(r.next_u64(), 0x99EC5F36CB75F2B4ull);
}

TEST(Rng, PerSampleGeneratorsDifferBySampleAndEpoch) {
  std::set<uint64_t> firsts;
  for (uint64_t epoch = 0; epoch < 4; ++epoch)
    for (uint64_t index = 0; index < 64; ++index) firsts.insert(Rng::for_sample(7, epoch, index).next_u64());
  EXPECT_EQ(firsts.size(), 4u * 64u);
}

TEST(Rng, BelowStaysInRangeAndCoversIt) {
  Rng r(3);
  std::set<uint64_t> seen;
  for (int i = 0; i < 2000; ++i) {
    uint64_t v = r.below(7);
    ASSERT_LT(v, 7u);
    seen.insert(v);
  }
  EXPECT_EQ(seen.size(), 7u);
}

TEST(Rng, UniformIsInHalfOpenUnitInterval) {
  Rng r(5);
  for (int i = 0; i < 10000; ++i) {
    double u = r.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
  }
}

}  // namespace
}  // namespace ferry
