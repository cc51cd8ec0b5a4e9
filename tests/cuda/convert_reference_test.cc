#include "cuda/convert_reference.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "tests/cuda/convert_cases.h"

#if FERRY_TEST_WITH_CUDA_HEADERS
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#endif

namespace ferry::cuda {
namespace {

using testing::kImagenetExpected;
using testing::kImagenetInput;
using testing::kLayoutExpected;
using testing::kLayoutFlips;

float from_bits(uint32_t x) {
  float f;
  std::memcpy(&f, &x, sizeof f);
  return f;
}

TEST(HalfRounding, ExactValuesKeepTheirBits) {
  EXPECT_EQ(float_to_half_bits(1.0f), 0x3C00);
  EXPECT_EQ(float_to_half_bits(-2.0f), 0xC000);
  EXPECT_EQ(float_to_half_bits(0.0f), 0x0000);
  EXPECT_EQ(float_to_half_bits(-0.0f), 0x8000);
  EXPECT_EQ(float_to_half_bits(65504.0f), 0x7BFF);               // largest half
  EXPECT_EQ(float_to_half_bits(std::ldexp(1.0f, -14)), 0x0400);  // smallest normal
  EXPECT_EQ(float_to_half_bits(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
}

TEST(HalfRounding, RoundsToNearestEven) {
  EXPECT_EQ(float_to_half_bits(0.1f), 0x2E66);
  EXPECT_EQ(float_to_half_bits(1.0f + std::ldexp(1.0f, -11)), 0x3C00);      // tie -> even 1.0
  EXPECT_EQ(float_to_half_bits(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);  // tie -> even mantissa 2
  EXPECT_EQ(float_to_half_bits(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20)), 0x3C01);  // above tie
  EXPECT_EQ(float_to_half_bits(std::ldexp(1.0f, -25)), 0x0000);                                 // tie -> even zero
  EXPECT_EQ(float_to_half_bits(std::ldexp(1.5f, -25)), 0x0001);                                 // above tie
  EXPECT_EQ(float_to_half_bits(std::ldexp(3.0f, -25)), 0x0002);     // 1.5 units: tie -> even 2
  EXPECT_EQ(float_to_half_bits(std::ldexp(1.0f, -26)), 0x0000);     // below half a unit
  EXPECT_EQ(float_to_half_bits(std::ldexp(2047.0f, -25)), 0x0400);  // subnormal rounds up to normal
  EXPECT_EQ(float_to_half_bits(std::numeric_limits<float>::denorm_min()), 0x0000);
}

TEST(HalfRounding, OverflowsToInfinityAndKeepsNan) {
  EXPECT_EQ(float_to_half_bits(65519.0f), 0x7BFF);
  EXPECT_EQ(float_to_half_bits(65520.0f), 0x7C00);  // tie between max and 2^16 -> even: infinity
  EXPECT_EQ(float_to_half_bits(1e6f), 0x7C00);
  EXPECT_EQ(float_to_half_bits(-1e6f), 0xFC00);
  EXPECT_EQ(float_to_half_bits(std::numeric_limits<float>::infinity()), 0x7C00);
  EXPECT_EQ(float_to_half_bits(std::numeric_limits<float>::quiet_NaN()), 0x7FFF);
}

TEST(BFloat16Rounding, RoundsToNearestEven) {
  EXPECT_EQ(float_to_bfloat16_bits(1.0f), 0x3F80);
  EXPECT_EQ(float_to_bfloat16_bits(from_bits(0x3F808000)), 0x3F80);  // tie -> even
  EXPECT_EQ(float_to_bfloat16_bits(from_bits(0x3F818000)), 0x3F82);  // tie -> even
  EXPECT_EQ(float_to_bfloat16_bits(from_bits(0x3F808001)), 0x3F81);  // above tie
  EXPECT_EQ(float_to_bfloat16_bits(0.1f), 0x3DCD);
  EXPECT_EQ(float_to_bfloat16_bits(-0.0f), 0x8000);
  EXPECT_EQ(float_to_bfloat16_bits(std::numeric_limits<float>::max()), 0x7F80);  // rounds to infinity
  EXPECT_EQ(float_to_bfloat16_bits(std::numeric_limits<float>::quiet_NaN()), 0x7FFF);
}

TEST(HalfRounding, BitsRoundTripThroughFloat) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const auto bits = static_cast<uint16_t>(h);
    const float f = half_bits_to_float(bits);
    if (std::isnan(f)) continue;
    ASSERT_EQ(float_to_half_bits(f), bits) << std::hex << h;
  }
}

#if FERRY_TEST_WITH_CUDA_HEADERS
// CUDA's own host implementations of __float2half_rn / __float2bfloat16_rn
// (header code, no GPU needed) agree with ours across the float range.
TEST(HalfRounding, MatchesCudaHeadersEverywhere) {
  for (uint64_t x = 0; x <= 0xFFFFFFFFull; x += 4093) {
    const float f = from_bits(static_cast<uint32_t>(x));
    const __half_raw h = __float2half_rn(f);
    const __nv_bfloat16_raw b = __float2bfloat16_rn(f);
    ASSERT_EQ(float_to_half_bits(f), h.x) << std::hex << x;
    ASSERT_EQ(float_to_bfloat16_bits(f), b.x) << std::hex << x;
  }
  // Every tie and near-tie around the half rounding points of [1, 2).
  for (uint32_t x = 0x3F800000; x < 0x40000000; x += 0x3FF) {
    const float f = from_bits(x);
    ASSERT_EQ(float_to_half_bits(f), static_cast<__half_raw>(__float2half_rn(f)).x) << std::hex << x;
  }
}
#endif

TEST(ConvertReference, WritesChwInOrderAndFlipsSamples) {
  const auto spec = testing::layout_spec(DType::kFloat32);
  const auto in = testing::layout_input();
  std::vector<float> out(36, -1.f);
  convert_hwc_u8_to_chw_reference(spec, in.data(), kLayoutFlips.data(), out.data());
  for (size_t i = 0; i < out.size(); ++i) EXPECT_NEAR(out[i], kLayoutExpected[i], 1e-3) << "element " << i;
}

TEST(ConvertReference, Float16AndBFloat16AreExactForTheLayoutCase) {
  const auto in = testing::layout_input();
  for (DType t : {DType::kFloat16, DType::kBFloat16}) {
    std::vector<uint16_t> out(36);
    convert_hwc_u8_to_chw_reference(testing::layout_spec(t), in.data(), kLayoutFlips.data(), out.data());
    for (size_t i = 0; i < out.size(); ++i) {
      const float got = t == DType::kFloat16 ? half_bits_to_float(out[i]) : bfloat16_bits_to_float(out[i]);
      EXPECT_EQ(got, kLayoutExpected[i]) << dtype_name(t) << " element " << i;
    }
  }
}

TEST(ConvertReference, NormalizesWithImagenetMeanAndStd) {
  std::vector<float> out(9);
  convert_hwc_u8_to_chw_reference(testing::imagenet_spec(DType::kFloat32), kImagenetInput.data(), nullptr, out.data());
  for (size_t i = 0; i < 9; ++i) EXPECT_NEAR(out[i], kImagenetExpected[i], 2e-6) << "element " << i;

  std::vector<uint16_t> half(9), bf16(9);
  convert_hwc_u8_to_chw_reference(testing::imagenet_spec(DType::kFloat16), kImagenetInput.data(), nullptr, half.data());
  convert_hwc_u8_to_chw_reference(testing::imagenet_spec(DType::kBFloat16), kImagenetInput.data(), nullptr,
                                  bf16.data());
  for (size_t i = 0; i < 9; ++i) {
    EXPECT_EQ(half[i], float_to_half_bits(out[i]));
    EXPECT_EQ(bf16[i], float_to_bfloat16_bits(out[i]));
    EXPECT_NEAR(half_bits_to_float(half[i]), kImagenetExpected[i], 2e-3);      // half: 11 significant bits
    EXPECT_NEAR(bfloat16_bits_to_float(bf16[i]), kImagenetExpected[i], 2e-2);  // bf16: 8 significant bits
  }
}

TEST(ConvertReference, SingleChannelAndFourChannelImages) {
  ConvertSpec s;
  s.batch = 1;
  s.height = 1;
  s.width = 2;
  s.channels = 1;
  const std::vector<uint8_t> gray = {0, 255};
  std::vector<float> out(2);
  convert_hwc_u8_to_chw_reference(s, gray.data(), nullptr, out.data());
  EXPECT_EQ(out[0], 0.f);
  EXPECT_EQ(out[1], 1.f);

  s.channels = 4;
  s.mean = {0.5f, 0.5f, 0.5f, 0.5f};
  s.stddev = {0.5f, 0.5f, 0.5f, 0.25f};
  const std::vector<uint8_t> rgba = {0, 255, 0, 255, 255, 0, 255, 0};
  const uint8_t flip = 1;
  out.resize(8);
  convert_hwc_u8_to_chw_reference(s, rgba.data(), &flip, out.data());
  const std::vector<float> expected = {1, -1, -1, 1, 1, -1, -2, 2};  // CHW, pixels swapped by the flip
  for (size_t i = 0; i < 8; ++i) EXPECT_EQ(out[i], expected[i]) << "element " << i;
}

TEST(ConvertReference, RejectsBadSpecsWithTheFieldName) {
  auto s = testing::layout_spec(DType::kFloat32);
  s.channels = 5;
  EXPECT_THROW(validate(s), InvalidOption);
  s = testing::layout_spec(DType::kUInt8);
  EXPECT_THROW(validate(s), InvalidOption);
  s = testing::layout_spec(DType::kFloat32);
  s.stddev[1] = 0.f;
  try {
    validate(s);
    FAIL() << "zero stddev accepted";
  } catch (const InvalidOption& e) {
    EXPECT_NE(std::string(e.what()).find("channel 1"), std::string::npos) << e.what();
  }
  s = testing::layout_spec(DType::kFloat32);
  s.width = 0;
  EXPECT_THROW(validate(s), InvalidOption);
  EXPECT_EQ(output_bytes(testing::layout_spec(DType::kBFloat16)), 72u);
}

}  // namespace
}  // namespace ferry::cuda
