// LoaderOptions::device and pin_memory with a usable CUDA device: built twice,
// as loader_cuda_gpu_test (the real runtime; skips with the reason without a
// GPU) and loader_cuda_fake_runtime_test (the CPU stand-in runtime of
// tests/cuda/fake_runtime, whose copies take time like DMA, so a host slot
// released too early shows up as wrong bytes on the "device").
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <thread>
#include <vector>

#include "base/error.h"
#include "cuda/host_registration.h"
#include "cuda/runtime.h"
#include "loader/data_loader.h"
#include "loader/detail/device_stage.h"
#include "tests/cuda/gpu_test_util.h"
#include "tests/support/scripted_dataset.h"

namespace ferry {
namespace {

using testing::Misbehave;
using testing::ScriptedDataset;

// Probed as the loader probes (without initializing CUDA in a process that
// has not yet), so a test's first fork sees what a user's would.
#define SKIP_WITHOUT_GPU()                                        \
  do {                                                            \
    const std::string why_ = detail::gpu_unavailable_reason();    \
    if (!why_.empty()) GTEST_SKIP() << "no usable GPU: " << why_; \
  } while (0)

using cuda::testing::kDriverMemorySlack;

LoaderOptions options(int workers, int device = 0) {
  LoaderOptions o;
  o.batch_size = 4;
  o.num_workers = workers;
  o.seed = 99;
  o.shuffle = true;
  o.device = device;
  return o;
}

std::vector<uint8_t> from_device(const void* p, size_t n) {
  std::vector<uint8_t> out(n);
  FERRY_CUDA_CHECK(cudaMemcpy(out.data(), p, n, cudaMemcpyDeviceToHost));
  return out;
}

std::vector<uint8_t> from_host(const void* p, size_t n) {
  auto* b = static_cast<const uint8_t*>(p);
  return {b, b + n};
}

// Every field's bytes (values, then ragged offsets) in field order.
std::vector<std::vector<uint8_t>> field_bytes(const Batch& b) {
  std::vector<std::vector<uint8_t>> out;
  auto read = b.device() >= 0 ? from_device : from_host;
  for (const auto& f : b.fields()) {
    out.push_back(read(f.values.data, f.values.nbytes()));
    if (f.ragged) out.push_back(read(f.offsets.data, f.offsets.nbytes()));
  }
  return out;
}

struct Epoch {
  std::vector<std::vector<std::vector<uint8_t>>> bytes;  // per batch, per field
  std::vector<std::vector<int64_t>> indices;
};

Epoch run_epoch(DataLoader& loader, cudaStream_t consumer = nullptr) {
  Epoch e;
  for (auto& batch : loader) {
    EXPECT_EQ(batch.device(), loader.options().device);
    if (batch.device() >= 0) {
      EXPECT_NE(batch.ready_event(), nullptr);             // stream() is null for a one-off (legacy stream)
      EXPECT_FALSE(cuda::is_page_locked(batch.memory()));  // device memory, not a host slot
      if (consumer) {
        batch.wait_on(consumer);
        FERRY_CUDA_CHECK(cudaStreamSynchronize(consumer));
      } else {
        batch.synchronize();
      }
    }
    e.bytes.push_back(field_bytes(batch));
    const auto s = batch.sample_indices();
    e.indices.emplace_back(s.begin(), s.end());
  }
  return e;
}

TEST(DeviceBatches, CarryTheSameBytesAsHostBatches) {
  SKIP_WITHOUT_GPU();
  for (int workers : {0, 1, 3}) {
    // Ragged "tokens" too; one slot per worker beyond prefetch, so a slot is
    // reused as soon as it is released.
    auto ds = std::make_shared<ScriptedDataset>(61, 300, 8);
    LoaderOptions host_opt = options(workers, -1);
    host_opt.prefetch_factor = 1;
    host_opt.slots_per_worker = 1;
    LoaderOptions dev_opt = host_opt;
    dev_opt.device = 0;
    DataLoader host(ds, host_opt), dev(ds, dev_opt);
    cuda::Stream consumer;
    {
      cuda::ScopedDevice on(0);
      consumer = cuda::Stream::non_blocking();
    }
    for (int epoch = 0; epoch < 2; ++epoch) {  // two pools (workers are not persistent)
      const Epoch want = run_epoch(host);
      const Epoch got = run_epoch(dev, epoch == 0 ? nullptr : consumer.get());
      EXPECT_EQ(got.indices, want.indices) << "workers=" << workers << " epoch=" << epoch;
      ASSERT_EQ(got.bytes.size(), want.bytes.size());
      for (size_t b = 0; b < want.bytes.size(); ++b)
        EXPECT_EQ(got.bytes[b], want.bytes[b]) << "workers=" << workers << " epoch=" << epoch << " batch " << b;
    }
    EXPECT_NE(dev.describe().find("cuda: device=0 ("), std::string::npos) << dev.describe();
    // Some batches' ragged tokens overflow the slot: they went through one-off
    // host segments and one-off device buffers.
    EXPECT_NE(dev.describe().find("larger batches in one-off device buffers"), std::string::npos) << dev.describe();
  }
}

TEST(DeviceBatches, HostSlotIsReleasedOnlyAfterTheCopyHasLanded) {
  SKIP_WITHOUT_GPU();
  // A host "slot" whose release scribbles over it at once, as a worker reusing
  // it would: the device batch must still hold the original bytes.
  LoaderOptions o = options(0);
  std::string note;
  auto stage = detail::DeviceStage::create(o, detail::resolve_engine(o, 1 << 20), note);
  ASSERT_NE(stage, nullptr) << note;
  constexpr size_t kBytes = 256 << 10;
  std::atomic<int> released{0};
  for (int round = 0; round < 20; ++round) {
    auto* mem = static_cast<std::byte*>(std::aligned_alloc(4096, kBytes));
    for (size_t i = 0; i < kBytes; ++i) mem[i] = std::byte(uint8_t(i * 31 + size_t(round)));
    std::shared_ptr<void> owner(mem, [&released](void* p) {
      std::memset(p, 0xEE, kBytes);
      std::free(p);
      released.fetch_add(1);
    });
    BatchField f;
    f.name = "x";
    f.values.data = mem;
    f.values.dtype = DType::kUInt8;
    f.values.shape = {1, int64_t(kBytes)};
    f.values.strides = {int64_t(kBytes), 1};
    Batch host(owner, mem, kBytes, 1, round, 0, {int64_t(round)}, {f});
    owner.reset();
    Batch dev = stage->deliver(std::move(host));
    EXPECT_FALSE(host.valid());
    ASSERT_EQ(dev.device(), 0);
    dev.synchronize();
    const std::vector<uint8_t> got = from_device(dev.memory(), kBytes);
    for (size_t i = 0; i < kBytes; ++i)
      if (got[i] != uint8_t(i * 31 + size_t(round))) FAIL() << "round " << round << " byte " << i << " was overwritten";
    EXPECT_EQ(dev["x"].data, dev.memory());
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (released.load() < 20 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(released.load(), 20) << "every host slot is released once its copy has landed";
}

size_t device_free_bytes() {
  cuda::ScopedDevice on(0);
  size_t free_bytes = 0, total = 0;
  FERRY_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total));
  return free_bytes;
}

TEST(DeviceBatches, NoDeviceMemoryGrowthOverManyBatches) {
  SKIP_WITHOUT_GPU();
  {
    cuda::ScopedDevice on(0);
    FERRY_CUDA_CHECK(cudaFree(nullptr));  // the context exists before the first reading
  }
  const size_t before = device_free_bytes();
  {
    LoaderOptions o = options(2);
    o.batch_size = 2;
    o.persistent_workers = true;
    DataLoader loader(std::make_shared<ScriptedDataset>(1000, 256 << 10), o);
    size_t after_first = 0;
    int64_t batches = 0;
    std::vector<Batch> held;  // the consumer keeps the last two batches
    for (int epoch = 0; epoch < 2; ++epoch) {
      for (auto& batch : loader) {
        ASSERT_EQ(batch.device(), 0);
        held.push_back(std::move(batch));
        if (held.size() > 2) held.erase(held.begin());
        if (++batches == 1) after_first = device_free_bytes();
      }
    }
    EXPECT_EQ(batches, 1000);
    EXPECT_GE(device_free_bytes() + kDriverMemorySlack, after_first)
        << "device memory grew over " << batches << " batches";
    EXPECT_GE(before, after_first + loader.slot_bytes() * size_t(o.prefetch_factor + 2))
        << "the device buffers are allocated up front";
  }
  EXPECT_GE(device_free_bytes() + kDriverMemorySlack, before) << "device memory left after the loader is gone";
}

TEST(DeviceBatches, BatchesOutliveTheLoader) {
  SKIP_WITHOUT_GPU();
  auto ds = std::make_shared<ScriptedDataset>(12, 64);
  LoaderOptions o = options(2);
  o.shuffle = false;
  Batch kept;
  {
    DataLoader loader(ds, o);
    loader.start_epoch();
    ASSERT_TRUE(loader.next(kept));
  }
  ASSERT_EQ(kept.device(), 0);
  EXPECT_NE(kept.stream(), nullptr);  // the copier's stream
  kept.synchronize();
  const std::vector<uint8_t> idx = from_device(kept["index"].data, kept["index"].nbytes());
  std::vector<int64_t> got(4);
  std::memcpy(got.data(), idx.data(), idx.size());
  EXPECT_EQ(got, (std::vector<int64_t>{0, 1, 2, 3}));
  kept.release_after(nullptr);
  EXPECT_FALSE(kept.valid());
  EXPECT_EQ(kept.device(), -1);
}

TEST(DeviceBatches, RespawnedWorkersStillFillPageLockedSlots) {
  SKIP_WITHOUT_GPU();
  char tmpl[] = "/tmp/ferry-loader-cuda-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  auto ds = std::make_shared<ScriptedDataset>(40, 64);
  ds->marker_dir(dir).on(13, Misbehave::kKillSelfOnce);
  LoaderOptions o = options(2);
  o.on_worker_failure = OnWorkerFailure::kRespawn;  // the new worker is forked after the arenas were registered
  DataLoader loader(ds, o);
  std::vector<int64_t> seen;
  for (auto& batch : loader) {
    batch.synchronize();
    const std::vector<uint8_t> idx = from_device(batch["index"].data, batch["index"].nbytes());
    const size_t n = seen.size();
    seen.resize(n + size_t(batch.size()));
    std::memcpy(seen.data() + n, idx.data(), idx.size());
  }
  std::filesystem::remove_all(dir);
  EXPECT_EQ(seen, RandomSampler(o.seed).indices(0, 40));
  EXPECT_EQ(loader.stats().worker_respawns, 1);
}

TEST(DeviceBatches, ExplicitForkWithPersistentWorkersStartsBeforeAnyCopierThread) {
  SKIP_WITHOUT_GPU();
  // The copier (and its threads) is created after the first pool has forked,
  // so start_method=fork passes the fork-safety check, unless the CUDA runtime
  // itself has started threads by then (then this test says so). In a fresh
  // process (threadsafe death tests re-run the binary), as a user's would be.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        LoaderOptions o = options(2);
        o.start_method = StartMethod::kFork;
        o.persistent_workers = true;
        int code = 0;
        try {
          DataLoader loader(std::make_shared<ScriptedDataset>(24, 64), o);
          for (int epoch = 0; epoch < 2; ++epoch) {
            int64_t samples = 0;
            for (auto& batch : loader) samples += batch.size();
            if (samples != 24) code = 2;
          }
          if (loader.stats().worker_starts != 1) code = 3;
        } catch (const std::exception& e) {
          std::fprintf(stderr, "%s\n", e.what());
          code = 1;
        }
        std::fflush(stderr);
        std::_Exit(code);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(DeviceBatches, PinMemoryOnPageLocksTheWorkerArenasOnly) {
  SKIP_WITHOUT_GPU();
  // A consumer that holds one batch at a time never forces a one-off segment
  // (each arena has a slot beyond prefetch_factor and the dispatcher prefers a
  // worker with a free slot), so every batch is page-locked, whatever the
  // timing; 20 loaders make a timing dependence visible.
  for (PinMemory pin : {PinMemory::kOn, PinMemory::kAuto}) {
    for (int round = 0; round < 10; ++round) {
      LoaderOptions o = options(2, -1);
      o.pin_memory = pin;
      auto ds = std::make_shared<ScriptedDataset>(30, 128);
      ds->on(5, Misbehave::kSleep50ms);  // one slow batch: later ones arrive first
      std::vector<const std::byte*> seen;
      {
        DataLoader loader(ds, o);
        EXPECT_NE(loader.describe().find("worker arenas page-locked"), std::string::npos) << loader.describe();
        for (int epoch = 0; epoch < 2; ++epoch) {  // a fresh pool, registered again
          for (auto& batch : loader) {
            EXPECT_EQ(batch.device(), -1);
            EXPECT_TRUE(batch.page_locked()) << "round " << round << " epoch " << epoch << " batch " << batch.index();
            EXPECT_TRUE(cuda::is_page_locked(batch.memory())) << "batch " << batch.index();
            seen.push_back(batch.memory());
          }
        }
        EXPECT_EQ(loader.stats().one_off_segments, 0);
        EXPECT_EQ(loader.stats().pageable_batches, 0);
      }
      for (const std::byte* p : seen) EXPECT_FALSE(cuda::is_page_locked(p)) << "still registered after the loader";
    }
  }
}

TEST(DeviceBatches, PinnedLoaderReportsBatchesFromOneOffSegmentsAsPageable) {
  SKIP_WITHOUT_GPU();
  // A consumer that keeps every batch holds all the slots; the rest of the
  // epoch goes to one-off segments: still delivered, in order, with the right
  // bytes, but pageable, and the batch and the stats say so. One worker, so
  // which batches found a slot does not depend on timing.
  LoaderOptions o = options(1, -1);
  o.pin_memory = PinMemory::kOn;
  o.shuffle = false;
  auto ds = std::make_shared<ScriptedDataset>(40, 128);
  DataLoader loader(ds, o);
  std::vector<Batch> held;
  int64_t pageable = 0;
  for (auto& batch : loader) {
    EXPECT_EQ(batch.page_locked(), cuda::is_page_locked(batch.memory())) << "batch " << batch.index();
    if (!batch.page_locked()) ++pageable;
    EXPECT_EQ(batch.sample_indices()[0], batch.index() * 4);
    held.push_back(std::move(batch));
  }
  ASSERT_EQ(held.size(), 10u);
  const int64_t slots = int64_t(o.num_workers) * (o.prefetch_factor + 1);
  EXPECT_EQ(pageable, 10 - slots) << "every slot is used before a one-off segment";
  EXPECT_EQ(loader.stats().pageable_batches, pageable);
  EXPECT_EQ(loader.stats().one_off_segments, pageable);
  EXPECT_NE(loader.describe().find(std::to_string(pageable) + " batches from one-off segments not page-locked"),
            std::string::npos)
      << loader.describe();
}

}  // namespace
}  // namespace ferry
