// The GPU kernel against the hand-written expected values and against the
// host reference, bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "base/error.h"
#include "cuda/convert.cuh"
#include "tests/cuda/convert_cases.h"
#include "tests/cuda/gpu_test_util.h"

namespace ferry::cuda {
namespace {

class DeviceBytes {
 public:
  explicit DeviceBytes(size_t n) { FERRY_CUDA_CHECK(cudaMalloc(&p_, n)); }
  ~DeviceBytes() { cudaFree(p_); }
  DeviceBytes(const DeviceBytes&) = delete;
  DeviceBytes& operator=(const DeviceBytes&) = delete;
  template <typename T>
  T* as() const {
    return static_cast<T*>(p_);
  }

 private:
  void* p_ = nullptr;
};

// Runs the kernel on the default stream and returns the output bytes.
std::vector<unsigned char> run_kernel(const ConvertSpec& spec, const std::vector<uint8_t>& in,
                                      const std::vector<uint8_t>& flips) {
  DeviceBytes src(in.size()), out(output_bytes(spec)), flip_dev(std::max<size_t>(flips.size(), 1));
  FERRY_CUDA_CHECK(cudaMemcpy(src.as<void>(), in.data(), in.size(), cudaMemcpyHostToDevice));
  if (!flips.empty()) {
    FERRY_CUDA_CHECK(cudaMemcpy(flip_dev.as<void>(), flips.data(), flips.size(), cudaMemcpyHostToDevice));
  }
  FERRY_CUDA_CHECK(cudaMemset(out.as<void>(), 0xEE, output_bytes(spec)));
  convert_hwc_u8_to_chw(spec, src.as<uint8_t>(), flips.empty() ? nullptr : flip_dev.as<uint8_t>(), out.as<void>(),
                        nullptr);
  FERRY_CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<unsigned char> host(output_bytes(spec));
  FERRY_CUDA_CHECK(cudaMemcpy(host.data(), out.as<void>(), host.size(), cudaMemcpyDeviceToHost));
  return host;
}

std::vector<unsigned char> run_reference(const ConvertSpec& spec, const std::vector<uint8_t>& in,
                                         const std::vector<uint8_t>& flips) {
  std::vector<unsigned char> out(output_bytes(spec));
  convert_hwc_u8_to_chw_reference(spec, in.data(), flips.empty() ? nullptr : flips.data(), out.data());
  return out;
}

float element(const std::vector<unsigned char>& out, DType t, size_t i) {
  if (t == DType::kFloat32) {
    float f;
    std::memcpy(&f, out.data() + 4 * i, 4);
    return f;
  }
  uint16_t b;
  std::memcpy(&b, out.data() + 2 * i, 2);
  return t == DType::kFloat16 ? half_bits_to_float(b) : bfloat16_bits_to_float(b);
}

const DType kOutTypes[] = {DType::kFloat32, DType::kFloat16, DType::kBFloat16};

TEST(ConvertKernel, WritesChwInOrderAndFlipsSamples) {
  FERRY_REQUIRE_GPU();
  const auto in = testing::layout_input();
  const std::vector<uint8_t> flips(testing::kLayoutFlips.begin(), testing::kLayoutFlips.end());
  for (DType t : kOutTypes) {
    const auto out = run_kernel(testing::layout_spec(t), in, flips);
    for (size_t i = 0; i < testing::kLayoutExpected.size(); ++i) {
      if (t == DType::kFloat32) {
        EXPECT_NEAR(element(out, t, i), testing::kLayoutExpected[i], 1e-3) << "element " << i;
      } else {
        EXPECT_EQ(element(out, t, i), testing::kLayoutExpected[i]) << dtype_name(t) << " element " << i;
      }
    }
  }
}

TEST(ConvertKernel, NormalizesWithImagenetMeanAndStd) {
  FERRY_REQUIRE_GPU();
  const std::vector<uint8_t> in(testing::kImagenetInput.begin(), testing::kImagenetInput.end());
  const auto out = run_kernel(testing::imagenet_spec(DType::kFloat32), in, {});
  for (size_t i = 0; i < 9; ++i) EXPECT_NEAR(element(out, DType::kFloat32, i), testing::kImagenetExpected[i], 2e-6);
}

TEST(ConvertKernel, MatchesTheHostReferenceBitForBit) {
  FERRY_REQUIRE_GPU();
  std::mt19937 rng(1234);
  struct Shape {
    int64_t n, h, w;
    int c;
  };
  for (const Shape& s : {Shape{3, 17, 33, 3}, Shape{2, 224, 224, 3}, Shape{5, 7, 300, 1}, Shape{1, 9, 5, 4}}) {
    std::vector<uint8_t> in(static_cast<size_t>(s.n * s.h * s.w * s.c));
    for (auto& b : in) b = static_cast<uint8_t>(rng());
    std::vector<uint8_t> flips(static_cast<size_t>(s.n));
    for (auto& f : flips) f = static_cast<uint8_t>(rng() & 1);
    for (DType t : kOutTypes) {
      ConvertSpec spec = testing::imagenet_spec(t);
      spec.batch = s.n;
      spec.height = s.h;
      spec.width = s.w;
      spec.channels = s.c;
      spec.mean[3] = 0.5f;
      spec.stddev[3] = 0.25f;
      const auto gpu = run_kernel(spec, in, flips);
      const auto ref = run_reference(spec, in, flips);
      ASSERT_EQ(gpu.size(), ref.size());
      ASSERT_EQ(std::memcmp(gpu.data(), ref.data(), gpu.size()), 0)
          << dtype_name(t) << " " << s.n << "x" << s.h << "x" << s.w << "x" << s.c;
    }
  }
}

TEST(ConvertKernel, RejectsBadArguments) {
  ConvertSpec bad = testing::layout_spec(DType::kInt32);
  uint8_t dummy = 0;
  EXPECT_THROW(convert_hwc_u8_to_chw(bad, &dummy, nullptr, &dummy, nullptr), InvalidOption);
  EXPECT_THROW(convert_hwc_u8_to_chw(testing::layout_spec(DType::kFloat32), nullptr, nullptr, &dummy, nullptr),
               InvalidOption);
}

TEST(ConvertKernel, MisalignedOutputIsRefusedBeforeTheLaunch) {
  // No GPU needed: the check comes before anything reaches the device, where
  // a misaligned store would be a sticky error for the whole process.
  alignas(8) uint8_t bytes[64] = {};
  for (DType t : kOutTypes) {
    try {
      convert_hwc_u8_to_chw(testing::layout_spec(t), bytes, nullptr, bytes + 1, nullptr);
      ADD_FAILURE() << dtype_name(t) << ": no exception";
    } catch (const InvalidOption& e) {
      EXPECT_NE(std::string(e.what()).find("not aligned to " + std::to_string(dtype_size(t)) + " bytes"),
                std::string::npos)
          << e.what();
    }
  }
}

}  // namespace
}  // namespace ferry::cuda
