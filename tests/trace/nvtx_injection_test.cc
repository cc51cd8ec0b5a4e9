// ferry-bench under an NVTX injection library (the hook Nsight Systems uses):
// the ranges each process and thread emits, their names and counts, and
// push/pop balance, for forked and spawned workers, and the consumer's own
// ranges (waits, reordering, worker start-up).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "tests/support/child_process.h"
#include "tests/trace/nvtx_record.h"
#include "tools/gen_sample/sample_data.h"

namespace ferry::testing {
namespace {

constexpr int kImages = 40;
constexpr int kBatch = 4;

class NvtxInjection : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
#if !FERRY_TEST_HAVE_NVTX
    GTEST_SKIP() << "this build has no NVTX ranges (FERRY_NVTX=OFF or no nvtx3 headers)";
#endif
    std::string tmpl = (std::filesystem::temp_directory_path() / "ferry-nvtx-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    std::filesystem::create_directories(dir_ + "/record");
    sample::write_image_folder(dir_ + "/data", kImages, 4, 3);
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  // Runs ferry-bench over the test data with the recorder injected; returns its pid.
  int run_bench(const std::string& start_method, int threads) {
    const char* bin = std::getenv("FERRY_BIN_DIR");
    const std::string exe = std::string(bin ? bin : "build/bin") + "/ferry-bench";
    ChildProcess bench(
        exe,
        {"--data", dir_ + "/data", "--pipeline", "train", "--batch-size", std::to_string(kBatch), "--workers", "2",
         "--threads", std::to_string(threads), "--start-method", start_method, "--no-progress"},
        dir_, {{"NVTX_INJECTION64_PATH", FERRY_NVTX_RECORDER}, {"FERRY_NVTX_RECORD_DIR", dir_ + "/record"}});
    const int pid = bench.pid();
    const ChildOutput o = bench.wait();
    EXPECT_EQ(o.exit_code, 0) << o.err;
    return pid;
  }

  NvtxRecording recording() const { return NvtxRecording::load(dir_ + "/record"); }

  std::string dir_;
};

TEST_P(NvtxInjection, EveryProcessIsNamedAndEveryStageIsARangeInTheFerryDomain) {
  const int main_pid = run_bench(GetParam(), 2);
  const NvtxRecording rec = recording();
  const NvtxProcess* main = rec.process(main_pid);
  ASSERT_NE(main, nullptr) << "the main process recorded nothing";
  const std::vector<const NvtxProcess*> workers = rec.processes_named("ferry-w");
  std::set<std::string> worker_names;
  for (const NvtxProcess* w : workers) worker_names.insert(w->name);
  EXPECT_EQ(worker_names, (std::set<std::string>{"ferry-w0", "ferry-w1"}));
  EXPECT_EQ(rec.processes().size(), 3u) << "the main process and two workers, nothing else";
  for (const NvtxProcess& p : rec.processes())
    for (const std::string& d : p.domains) EXPECT_EQ(d, "ferry") << p.name;

  // One read, header, decode and augment range per image, all in the workers.
  for (const char* stage : {"read", "header", "decode", "augment"}) {
    EXPECT_EQ(rec.count("ferry", stage, "ferry-w"), size_t(kImages)) << stage;
    EXPECT_EQ(rec.count("ferry", stage), size_t(kImages)) << stage << " only in workers";
  }
  EXPECT_EQ(rec.count("ferry", "send", "ferry-w"), size_t(kImages / kBatch)) << "one send per batch";
  size_t waits = 0;
  for (const NvtxRange& r : main->ranges) waits += r.name == "wait_for_batch";
  EXPECT_GE(waits, 1u) << "the consumer's waits";
  // Worker start-up is a range of its own, not inside the first wait: once,
  // the bench's workers being persistent.
  size_t starts = 0;
  for (const NvtxRange& r : main->ranges) {
    if (r.name != "start_workers") continue;
    ++starts;
    EXPECT_EQ(r.depth, 0) << "inside " << r.parent;
  }
  EXPECT_EQ(starts, 1u);
}

// Whether a helper thread takes part in a batch is the scheduler's choice, so
// the test asks that every thread that did work is named, and how.
TEST_P(NvtxInjection, EveryWorkerThreadThatWorksIsNamedAfterItsWorker) {
  run_bench(GetParam(), 2);
  const NvtxRecording rec = recording();
  for (const NvtxProcess* w : rec.processes_named("ferry-w")) {
    std::set<int> range_threads;
    for (const NvtxRange& r : w->ranges) range_threads.insert(r.tid);
    EXPECT_TRUE(range_threads.count(w->pid)) << w->name << ": the worker's own thread works too";
    for (int tid : range_threads) {
      const auto named = w->threads.find(tid);
      ASSERT_NE(named, w->threads.end()) << w->name << ": unnamed thread " << tid;
      // --threads 2: the worker's own thread and at most one helper, "-t1".
      EXPECT_EQ(named->second, tid == w->pid ? w->name : w->name + "-t1");
    }
  }
}

TEST_P(NvtxInjection, EveryPushIsPoppedOnItsThreadAndNestsOnlyWhereDesigned) {
  const int main_pid = run_bench(GetParam(), 2);
  const NvtxRecording rec = recording();
  EXPECT_FALSE(rec.processes().empty());
  EXPECT_EQ(rec.balance_problems(), "");
  // A worker's stages follow each other; in the main process only the
  // consumer's reorder wait lies inside its wait for a batch.
  for (const NvtxProcess& p : rec.processes())
    for (const NvtxRange& r : p.ranges) {
      if (r.depth == 0) continue;
      EXPECT_EQ(p.pid, main_pid) << p.name << ": " << r.name << " inside " << r.parent;
      EXPECT_EQ(r.name, "reorder") << "inside " << r.parent;
      EXPECT_EQ(r.parent, "wait_for_batch") << r.name;
    }
}

INSTANTIATE_TEST_SUITE_P(StartMethods, NvtxInjection, ::testing::Values("fork", "spawn"));

}  // namespace
}  // namespace ferry::testing
