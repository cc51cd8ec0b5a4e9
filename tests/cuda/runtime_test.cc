#include "cuda/runtime.h"

#include <gtest/gtest.h>

#include <iostream>
#include <string>

#include "base/error.h"
#include "cuda/host_registration.h"
#include "tests/cuda/gpu_test_util.h"

namespace ferry::cuda {
namespace {

TEST(DeviceStatus, NeverThrowsAndExplainsAMissingGpu) {
  const DeviceStatus st = device_status();
  if (st.available) {
    EXPECT_GE(st.device_count, 1);
    EXPECT_FALSE(st.name.empty());
    EXPECT_GT(st.compute_capability, 0);
    EXPECT_TRUE(st.reason.empty());
  } else {
    EXPECT_FALSE(st.reason.empty());
    std::cout << "[ info ] no GPU here: " << st.reason << "\n";
  }
  EXPECT_GT(st.runtime_version, 0);
}

TEST(CudaCheck, ThrowsErrorNamingTheCallAndTheRuntimeText) {
  try {
    check(cudaErrorMemoryAllocation, "cudaMalloc(64 MiB)");
    FAIL() << "no exception";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("cudaMalloc(64 MiB) failed: "), std::string::npos) << what;
    EXPECT_NE(what.find(cudaGetErrorString(cudaErrorMemoryAllocation)), std::string::npos) << what;
    EXPECT_NE(what.find("cudaErrorMemoryAllocation"), std::string::npos) << what;
  }
  EXPECT_NO_THROW(check(cudaSuccess, "nothing"));
}

TEST(CudaCheck, MacroQuotesTheCallAsWritten) {
  try {
    FERRY_CUDA_CHECK(cudaErrorInvalidValue);
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cudaErrorInvalidValue failed"), std::string::npos) << e.what();
  }
}

TEST(Event, NotReadyQueryLeavesNoErrorForTheNextLaunchCheck) {
  FERRY_REQUIRE_GPU();
  ScopedDevice on(0);
  Stream s = Stream::non_blocking();
  Event e(cudaEventDisableTiming);
  {
    testing::StreamGate gate(s.get());
    e.record(s.get());
    EXPECT_FALSE(e.query());
    // What convert.cu checks right after a launch: it must not see the
    // query's cudaErrorNotReady.
    EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  }
  s.synchronize();
  EXPECT_TRUE(e.query());
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
}

TEST(CudaCheck, TeardownErrorsAreRuntimeUnloading) {
  EXPECT_THROW(check(cudaErrorCudartUnloading, "cudaEventRecord"), RuntimeUnloading);
  EXPECT_THROW(check(cudaErrorContextIsDestroyed, "cudaFree"), RuntimeUnloading);
  try {
    check(cudaErrorInvalidValue, "cudaMemcpy");
    FAIL() << "no exception";
  } catch (const RuntimeUnloading&) {
    FAIL() << "an ordinary error is not a teardown";
  } catch (const Error&) {
  }
}

TEST(HostRegistration, EmptyRangeIsRefusedBeforeTouchingTheDriver) {
  EXPECT_THROW(HostRegistration(nullptr, 4096), InvalidOption);
  int x = 0;
  EXPECT_THROW(HostRegistration(&x, 0), InvalidOption);
  HostRegistration none;
  EXPECT_FALSE(none.registered());
  none.reset();  // harmless
}

TEST(HostRegistration, RegisteredSharedMappingIsPageLockedUntilReset) {
  FERRY_REQUIRE_GPU();
  testing::SharedArena arena(8 << 20);
  EXPECT_FALSE(is_page_locked(arena.data()));
  HostRegistration pinned(arena.data(), arena.size());
  EXPECT_TRUE(pinned.registered());
  EXPECT_TRUE(is_page_locked(arena.data()));
  EXPECT_TRUE(is_page_locked(arena.data() + arena.size() - 1));
  HostRegistration moved = std::move(pinned);
  EXPECT_FALSE(pinned.registered());
  EXPECT_TRUE(is_page_locked(arena.data()));
  moved.reset();
  EXPECT_FALSE(is_page_locked(arena.data()));
}

}  // namespace
}  // namespace ferry::cuda
