#include "base/dtype.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace ferry {
namespace {

TEST(DType, EveryTypeHasOneNameAndASize) {
  std::set<std::string> names;
  for (DType t : kAllDTypes) {
    EXPECT_GT(dtype_size(t), 0u) << dtype_name(t);
    EXPECT_NE(dtype_name(t), "?");
    EXPECT_TRUE(names.insert(std::string(dtype_name(t))).second) << dtype_name(t) << " appears twice";
  }
  EXPECT_EQ(names.size(), size_t(DType::kFloat64) + 1) << "kAllDTypes misses a type";
}

TEST(DType, SizesMatchTheirNames) {
  EXPECT_EQ(dtype_size(DType::kBool), 1u);
  EXPECT_EQ(dtype_size(DType::kInt8), 1u);
  EXPECT_EQ(dtype_size(DType::kInt16), 2u);
  EXPECT_EQ(dtype_size(DType::kUInt16), 2u);
  EXPECT_EQ(dtype_size(DType::kFloat64), 8u);
  EXPECT_EQ(dtype_name(DType::kFloat64), "float64");
}

}  // namespace
}  // namespace ferry
