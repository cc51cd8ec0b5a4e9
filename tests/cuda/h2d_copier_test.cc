#include "cuda/h2d_copier.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <iostream>
#include <memory>
#include <vector>

#include "base/error.h"
#include "cuda/host_registration.h"
#include "tests/cuda/gpu_test_util.h"

namespace ferry::cuda {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

bool eventually(const std::function<bool()>& done, milliseconds within = milliseconds(10'000)) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return true;
}

TEST(H2DCopier, BadOptionsAreRefusedBeforeTouchingTheDevice) {
  EXPECT_THROW(H2DCopier(H2DCopierOptions{.buffer_bytes = 0}), InvalidOption);
  EXPECT_THROW(H2DCopier(H2DCopierOptions{.buffer_bytes = 16, .buffers = 0}), InvalidOption);
  EXPECT_THROW(H2DCopier(H2DCopierOptions{.buffer_bytes = 16, .max_in_flight = 0}), InvalidOption);
}

TEST(H2DCopier, CopiesEveryBatchByteForByteFromPinnedSharedMemory) {
  FERRY_REQUIRE_GPU();
  constexpr size_t kSlots = 4;
  constexpr size_t kSlotBytes = (1 << 20) + 4096;
  constexpr size_t kBatchBytes = (1 << 20) - 3;  // odd size on purpose
  testing::SharedArena arena(kSlots * kSlotBytes);
  HostRegistration pinned(arena.data(), arena.size());
  H2DCopier copier({.device = 0, .buffer_bytes = kBatchBytes, .buffers = kSlots, .max_in_flight = kSlots});
  std::vector<unsigned char> back(kBatchBytes);
  for (int round = 0; round < 4; ++round) {
    std::atomic<int> freed{0};
    std::vector<std::future<DeviceBatch>> tickets;
    for (size_t s = 0; s < kSlots; ++s) {
      unsigned char* slot = arena.data() + s * kSlotBytes;
      for (size_t i = 0; i < kBatchBytes; ++i) slot[i] = static_cast<unsigned char>(i * 31 + s * 7 + round * 13);
      tickets.push_back(copier.submit(slot, kBatchBytes, [&] { ++freed; }));
    }
    for (size_t s = 0; s < kSlots; ++s) {
      DeviceBatch batch = tickets[s].get();
      ASSERT_EQ(batch.bytes(), kBatchBytes);
      batch.synchronize();
      FERRY_CUDA_CHECK(cudaMemcpy(back.data(), batch.data(), kBatchBytes, cudaMemcpyDeviceToHost));
      const unsigned char* slot = arena.data() + s * kSlotBytes;
      ASSERT_EQ(std::memcmp(back.data(), slot, kBatchBytes), 0) << "round " << round << " slot " << s;
      batch.release(nullptr);  // synchronized above: nothing pending
    }
    ASSERT_TRUE(eventually([&] { return freed.load() == static_cast<int>(kSlots); }));
  }
}

TEST(H2DCopier, HostMemoryIsFreedOnlyAfterTheCopyCompleted) {
  FERRY_REQUIRE_GPU();
  testing::SharedArena arena(1 << 20);
  HostRegistration pinned(arena.data(), arena.size());
  H2DCopier copier({.device = 0, .buffer_bytes = 1 << 20});
  testing::StreamGate gate(copier.stream());  // the copy cannot start yet
  std::atomic<bool> freed{false};
  auto ticket = copier.submit(arena.data(), 1 << 20, [&] { freed = true; });
  // The batch is handed out as soon as the copy is queued...
  ASSERT_EQ(ticket.wait_for(seconds(10)), std::future_status::ready);
  DeviceBatch batch = ticket.get();
  std::this_thread::sleep_for(milliseconds(100));
  // ...but the host memory stays in use until the copy has run.
  EXPECT_FALSE(freed.load());
  EXPECT_EQ(copier.in_flight(), 1u);
  gate.open();
  EXPECT_TRUE(eventually([&] { return freed.load(); }));
  EXPECT_TRUE(eventually([&] { return copier.in_flight() == 0; }));
}

TEST(H2DCopier, SubmitBlocksBeyondMaxInFlightAndTimesOut) {
  FERRY_REQUIRE_GPU();
  testing::SharedArena arena(3 * 4096);
  HostRegistration pinned(arena.data(), arena.size());
  H2DCopier copier({.device = 0, .buffer_bytes = 4096, .buffers = 4, .max_in_flight = 2, .timeout = milliseconds(100)});
  testing::StreamGate gate(copier.stream());
  auto a = copier.submit(arena.data(), 4096, nullptr);
  auto b = copier.submit(arena.data() + 4096, 4096, nullptr);
  EXPECT_THROW(copier.submit(arena.data() + 8192, 4096, nullptr), Timeout);
  gate.open();
  auto c = copier.submit(arena.data() + 8192, 4096, nullptr);
  EXPECT_NO_THROW(c.get().synchronize());
}

TEST(H2DCopier, DeviceBufferIsReusedOnlyAfterTheConsumersStreamPassedIt) {
  FERRY_REQUIRE_GPU();
  testing::SharedArena arena(2 * 4096);
  HostRegistration pinned(arena.data(), arena.size());
  Stream consumer = Stream::non_blocking();
  H2DCopier copier(
      {.device = 0, .buffer_bytes = 4096, .buffers = 1, .max_in_flight = 2, .consumer_stream = consumer.get()});
  DeviceBatch first = copier.submit(arena.data(), 4096, nullptr).get();
  first.wait_on(consumer.get());
  testing::StreamGate gate(consumer.get());    // the training step is still running
  { DeviceBatch dropped = std::move(first); }  // released after `consumer`, by default
  auto second = copier.submit(arena.data() + 4096, 4096, nullptr);
  EXPECT_EQ(second.wait_for(milliseconds(150)), std::future_status::timeout);
  gate.open();
  ASSERT_EQ(second.wait_for(seconds(10)), std::future_status::ready);
  EXPECT_NO_THROW(second.get().synchronize());
}

TEST(H2DCopier, DroppedBatchIsReleasedAfterEveryStreamItWaitedOn) {
  FERRY_REQUIRE_GPU();
  // No consumer_stream option: the consumer names its streams with wait_on()
  // (PyTorch's side streams are non-blocking, so the legacy default stream
  // says nothing about them).
  testing::SharedArena arena(2 * 4096);
  HostRegistration pinned(arena.data(), arena.size());
  Stream a = Stream::non_blocking(), b = Stream::non_blocking();
  H2DCopier copier({.device = 0, .buffer_bytes = 4096, .buffers = 1, .max_in_flight = 2});
  DeviceBatch first = copier.submit(arena.data(), 4096, nullptr).get();
  first.wait_on(a.get());
  first.wait_on(b.get());
  first.wait_on(a.get());
  EXPECT_EQ(first.consumers(), (std::vector<cudaStream_t>{a.get(), b.get()}));
  testing::StreamGate gate_a(a.get()), gate_b(b.get());  // both still read the batch
  { DeviceBatch dropped = std::move(first); }
  auto second = copier.submit(arena.data() + 4096, 4096, nullptr);
  EXPECT_EQ(second.wait_for(milliseconds(150)), std::future_status::timeout);
  gate_a.open();
  EXPECT_EQ(second.wait_for(milliseconds(150)), std::future_status::timeout) << "stream b still reads it";
  gate_b.open();
  ASSERT_EQ(second.wait_for(seconds(10)), std::future_status::ready);
  EXPECT_NO_THROW(second.get().synchronize());
}

// Built before main(), so before the CUDA runtime starts: at exit it is
// destroyed after the runtime's own teardown, as a user's static holder would be.
struct StaticHolder {
  std::unique_ptr<testing::SharedArena> arena;
  std::unique_ptr<H2DCopier> copier;
  DeviceBatch batch;  // destroyed first
} g_static_holder;

TEST(H2DCopier, BatchDroppedAfterTheRuntimeUnloadedStaysSilent) {
  FERRY_REQUIRE_GPU();
  // Dropping the batch (and the copier) after the runtime unloaded must
  // neither print nor hang. In a fresh process (threadsafe death tests re-run
  // the binary), which exits with the batch still held.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        StaticHolder& h = g_static_holder;
        h.arena = std::make_unique<testing::SharedArena>(4096);
        h.copier = std::make_unique<H2DCopier>(H2DCopierOptions{.device = 0, .buffer_bytes = 4096});
        h.batch = h.copier->submit(h.arena->data(), 4096, nullptr).get();
        h.batch.synchronize();
        std::fflush(stderr);
        std::exit(0);
      },
      ::testing::ExitedWithCode(0), "^$");
}

TEST(H2DCopier, OversizedBatchIsRefused) {
  FERRY_REQUIRE_GPU();
  H2DCopier copier({.device = 0, .buffer_bytes = 4096});
  std::vector<char> host(8192);
  EXPECT_THROW(copier.submit(host.data(), host.size(), nullptr), InvalidOption);
}

TEST(H2DCopier, ShutdownCancelsWaitingCopiesAndStillFreesTheirHostMemory) {
  FERRY_REQUIRE_GPU();
  testing::SharedArena arena(3 * 4096);
  HostRegistration pinned(arena.data(), arena.size());
  auto copier = std::make_unique<H2DCopier>(
      H2DCopierOptions{.device = 0, .buffer_bytes = 4096, .buffers = 1, .max_in_flight = 3});
  auto gate = std::make_unique<testing::StreamGate>(copier->stream());
  std::atomic<int> freed{0};
  DeviceBatch held = copier->submit(arena.data(), 4096, [&] { ++freed; }).get();
  auto waiting = copier->submit(arena.data() + 4096, 4096, [&] { ++freed; });  // no free device buffer
  auto queued = copier->submit(arena.data() + 8192, 4096, [&] { ++freed; });
  std::thread opener([&] {
    std::this_thread::sleep_for(milliseconds(50));
    gate->open();
  });
  copier.reset();
  opener.join();
  EXPECT_EQ(freed.load(), 3);
  EXPECT_THROW(waiting.get(), Error);
  EXPECT_THROW(queued.get(), Error);
  held.synchronize();  // still valid after the copier is gone
}

TEST(H2DCopier, NoDeviceMemoryGrowthOver1000Batches) {
  FERRY_REQUIRE_GPU();
  constexpr size_t kBytes = 4 << 20;
  testing::SharedArena arena(2 * kBytes);
  HostRegistration pinned(arena.data(), arena.size());
  Stream consumer = Stream::non_blocking();
  H2DCopier copier(
      {.device = 0, .buffer_bytes = kBytes, .buffers = 3, .max_in_flight = 2, .consumer_stream = consumer.get()});
  std::atomic<int> slot_busy[2] = {0, 0};
  size_t free_after_warmup = 0, free_at_end = 0, total = 0;
  std::deque<std::future<DeviceBatch>> tickets;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i) {
    const int slot = i % 2;
    ASSERT_TRUE(eventually([&] { return slot_busy[slot].load() == 0; }));
    slot_busy[slot] = 1;
    tickets.push_back(copier.submit(arena.data() + slot * kBytes, kBytes, [&, slot] { slot_busy[slot] = 0; }));
    if (tickets.size() == 2) {
      DeviceBatch b = tickets.front().get();
      tickets.pop_front();
      b.wait_on(consumer.get());  // the consumer "uses" it on its stream, then drops it
    }
    if (i == 49) {
      FERRY_CUDA_CHECK(cudaDeviceSynchronize());
      FERRY_CUDA_CHECK(cudaMemGetInfo(&free_after_warmup, &total));
    }
  }
  while (!tickets.empty()) {
    tickets.front().get().synchronize();
    tickets.pop_front();
  }
  FERRY_CUDA_CHECK(cudaDeviceSynchronize());
  FERRY_CUDA_CHECK(cudaMemGetInfo(&free_at_end, &total));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "[ info ] 1000 x 4 MiB in " << secs << " s; device free " << free_after_warmup << " -> " << free_at_end
            << " bytes\n";
  // A leak of even one batch per 100 would show as 40 MiB.
  EXPECT_GE(free_at_end + testing::kDriverMemorySlack, free_after_warmup);
}

}  // namespace
}  // namespace ferry::cuda
