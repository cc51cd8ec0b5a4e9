// LoaderOptions::device / pin_memory on any machine: option checks, and
// without a usable GPU (or without the CUDA stage) the refusals naming the
// reason and pin_memory=auto running quietly on the host. On a machine with a
// GPU the refusal tests skip (loader_cuda_gpu_test covers that case).
#include <gtest/gtest.h>

#include <string>

#include "base/error.h"
#include "loader/data_loader.h"
#include "tests/support/scripted_dataset.h"

#ifdef FERRY_HAVE_CUDA
#include "cuda/runtime.h"
#endif

namespace ferry {
namespace {

using testing::ScriptedDataset;

// Empty when a GPU is usable here; else why not, as the loader reports it.
std::string why_no_gpu() {
#ifdef FERRY_HAVE_CUDA
  const cuda::DeviceStatus st = cuda::device_status();
  return st.available ? std::string() : st.reason;
#else
  return "was built without";
#endif
}

LoaderOptions options(int workers) {
  LoaderOptions o;
  o.batch_size = 4;
  o.num_workers = workers;
  o.seed = 7;
  return o;
}

std::string invalid_option_message(const LoaderOptions& o) {
  try {
    DataLoader loader(std::make_shared<ScriptedDataset>(20), o);
  } catch (const InvalidOption& e) {
    return e.what();
  }
  return "(no InvalidOption)";
}

TEST(LoaderCudaOptions, ValidateNamesDeviceAndPinMemory) {
  LoaderOptions o = options(0);
  o.device = -2;
  EXPECT_NE(invalid_option_message(o).find("option device must be -1"), std::string::npos) << invalid_option_message(o);
  o.device = -1;
  o.pin_memory = static_cast<PinMemory>(9);
  EXPECT_NE(invalid_option_message(o).find("option pin_memory must be off, on or auto"), std::string::npos)
      << invalid_option_message(o);
  EXPECT_EQ(to_string(PinMemory::kOff), "off");
  EXPECT_EQ(to_string(PinMemory::kOn), "on");
  EXPECT_EQ(to_string(PinMemory::kAuto), "auto");
}

TEST(LoaderCudaOptions, DefaultsStayOnTheHostAndDescribeSaysCudaIsOff) {
  DataLoader loader(std::make_shared<ScriptedDataset>(8), options(0));
  EXPECT_EQ(loader.options().device, -1);
  EXPECT_EQ(loader.options().pin_memory, PinMemory::kOff);
  EXPECT_NE(loader.describe().find("cuda: off (device=-1, pin_memory=off)"), std::string::npos) << loader.describe();
  int batches = 0;
  for (auto& batch : loader) {
    ++batches;
    EXPECT_EQ(batch.device(), -1);
    EXPECT_EQ(batch.stream(), nullptr);
    EXPECT_EQ(batch.ready_event(), nullptr);
    batch.wait_on(nullptr);  // no-ops on the host
    batch.synchronize();
  }
  EXPECT_EQ(batches, 2);
}

TEST(LoaderCudaOptions, HostBatchReleaseAfterReleasesNow) {
  DataLoader loader(std::make_shared<ScriptedDataset>(8), options(1));
  loader.start_epoch();
  Batch b;
  ASSERT_TRUE(loader.next(b));
  ASSERT_TRUE(b.valid());
  b.release_after(nullptr);
  EXPECT_FALSE(b.valid());
  EXPECT_EQ(b.device(), -1);
}

TEST(LoaderCudaOptions, DeviceIsRefusedWithTheReasonWithoutAGpu) {
  const std::string reason = why_no_gpu();
  if (reason.empty()) GTEST_SKIP() << "a GPU is usable here; loader_cuda_gpu_test covers device=0";
  for (int workers : {0, 2}) {
    LoaderOptions o = options(workers);
    o.device = 0;
    const std::string msg = invalid_option_message(o);
    EXPECT_NE(msg.find("option device=0"), std::string::npos) << msg;
    EXPECT_NE(msg.find(reason), std::string::npos) << msg << "\nreason: " << reason;
  }
}

TEST(LoaderCudaOptions, PinMemoryOnIsRefusedWithTheReasonWithoutAGpu) {
  const std::string reason = why_no_gpu();
  if (reason.empty()) GTEST_SKIP() << "a GPU is usable here; loader_cuda_gpu_test covers pin_memory=on";
  LoaderOptions o = options(2);
  o.pin_memory = PinMemory::kOn;
  const std::string msg = invalid_option_message(o);
  EXPECT_NE(msg.find("option pin_memory=on"), std::string::npos) << msg;
  EXPECT_NE(msg.find(reason), std::string::npos) << msg << "\nreason: " << reason;
}

TEST(LoaderCudaOptions, PinMemoryAutoRunsOnTheHostWithoutAGpuAndDescribeSaysSo) {
  const std::string reason = why_no_gpu();
  if (reason.empty()) GTEST_SKIP() << "a GPU is usable here: pin_memory=auto pins";
  for (int workers : {0, 2}) {
    LoaderOptions o = options(workers);
    o.pin_memory = PinMemory::kAuto;
    DataLoader loader(std::make_shared<ScriptedDataset>(10), o);
    const std::string text = loader.describe();
    EXPECT_NE(text.find("cuda: pin_memory=auto: off ("), std::string::npos) << text;
    EXPECT_NE(text.find(reason), std::string::npos) << text;
    std::vector<int64_t> seen;
    for (auto& batch : loader) {
      EXPECT_EQ(batch.device(), -1);
      const auto* idx = batch["index"].data_as<int64_t>();
      seen.insert(seen.end(), idx, idx + batch.size());
    }
    EXPECT_EQ(seen, SequentialSampler().indices(0, 10)) << "workers=" << workers;
  }
}

}  // namespace
}  // namespace ferry
