#include "cuda/device_buffer_pool.h"

#include <gtest/gtest.h>

#include <set>

#include "base/error.h"
#include "tests/cuda/gpu_test_util.h"

namespace ferry::cuda {
namespace {

using std::chrono::milliseconds;

TEST(DeviceBufferPool, AllocatesDistinctBuffersUpFront) {
  FERRY_REQUIRE_GPU();
  DeviceBufferPool pool(0, 3, 1 << 20);
  EXPECT_EQ(pool.free_count(), 3u);
  std::set<void*> seen;
  for (int i = 0; i < 3; ++i) {
    auto b = pool.try_acquire();
    ASSERT_TRUE(b.has_value());
    EXPECT_EQ(b->bytes, 1u << 20);
    seen.insert(b->data);
  }
  EXPECT_EQ(seen.size(), 3u);
  EXPECT_FALSE(pool.try_acquire().has_value());
}

TEST(DeviceBufferPool, AcquireTimesOutWhenConsumersHoldEveryBuffer) {
  FERRY_REQUIRE_GPU();
  DeviceBufferPool pool(0, 2, 4096);
  auto a = pool.acquire(milliseconds(100));
  auto b = pool.acquire(milliseconds(100));
  EXPECT_NE(a.data, b.data);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(pool.acquire(milliseconds(50)), Timeout);
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(45));
  pool.release(a, nullptr);
  EXPECT_EQ(pool.acquire(milliseconds(100)).index, a.index);
}

TEST(DeviceBufferPool, BufferComesBackOnlyAfterTheConsumersEventCompleted) {
  FERRY_REQUIRE_GPU();
  DeviceBufferPool pool(0, 1, 4096);
  Stream consumer = Stream::non_blocking();
  auto buf = pool.acquire(milliseconds(100));
  testing::StreamGate gate(consumer.get());  // the consumer's "work" is still running
  {
    Event done(cudaEventDisableTiming);
    done.record(consumer.get());
    pool.release(buf, done.get());
  }  // the consumer's event may go away right after release()
  EXPECT_FALSE(pool.acquire_until(std::chrono::steady_clock::now() + milliseconds(100)).has_value());
  EXPECT_EQ(pool.free_count(), 0u);
  gate.open();
  auto again = pool.acquire_until(std::chrono::steady_clock::now() + std::chrono::seconds(10));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->data, buf.data);
}

TEST(DeviceBufferPool, ReleaseAfterStreamWaitsForThatStream) {
  FERRY_REQUIRE_GPU();
  DeviceBufferPool pool(0, 1, 4096);
  Stream consumer = Stream::non_blocking();
  auto buf = pool.acquire(milliseconds(100));
  testing::StreamGate gate(consumer.get());
  pool.release_after(buf, consumer.get());
  EXPECT_FALSE(pool.try_acquire().has_value());
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_FALSE(pool.try_acquire().has_value());
  gate.open();
  EXPECT_NO_THROW(pool.acquire(std::chrono::seconds(10)));
}

TEST(DeviceBufferPool, DoubleReleaseAndForeignBuffersAreRefused) {
  FERRY_REQUIRE_GPU();
  DeviceBufferPool pool(0, 1, 4096);
  auto buf = pool.acquire(milliseconds(100));
  pool.release(buf, nullptr);
  EXPECT_THROW(pool.release(buf, nullptr), InvalidOption);
  DeviceBuffer stranger{0, &buf, 4096};
  EXPECT_THROW(pool.release(stranger, nullptr), InvalidOption);
}

TEST(DeviceBufferPool, ZeroSizedPoolIsRefused) {
  EXPECT_THROW(DeviceBufferPool(0, 0, 4096), InvalidOption);
  EXPECT_THROW(DeviceBufferPool(0, 2, 0), InvalidOption);
}

}  // namespace
}  // namespace ferry::cuda
