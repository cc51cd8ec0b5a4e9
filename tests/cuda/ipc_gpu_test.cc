// CUDA IPC between two real processes (tools/cuda_ipc_example): every byte
// arrives, and a consumer killed mid-batch gives all its buffers back.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "tests/cuda/gpu_test_util.h"

extern char** environ;

// The example pair to run: "-fake" in cuda_fake_runtime_test (CPU stand-in runtime).
#ifndef FERRY_IPC_EXAMPLE_SUFFIX
#define FERRY_IPC_EXAMPLE_SUFFIX ""
#endif

namespace ferry::cuda {
namespace {

std::string bin_dir() {
  const char* d = std::getenv("FERRY_BIN_DIR");
  return d ? d : "";
}

pid_t spawn(const std::string& exe, std::vector<std::string> args) {
  args.insert(args.begin(), exe);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int err = ::posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv.data(), environ);
  if (err != 0) throw SystemError("posix_spawn(" + exe + ")", err);
  return pid;
}

// The wait status of `pid`, killing it after `within`.
int wait_for(pid_t pid, std::chrono::seconds within) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      ADD_FAILURE() << "process " << pid << " did not finish in time";
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

class IpcTwoProcesses : public ::testing::Test {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_GPU();
    if (bin_dir().empty()) GTEST_SKIP() << "FERRY_BIN_DIR is not set (run through ctest)";
    if (std::string(FERRY_IPC_EXAMPLE_SUFFIX).empty()) {
      // One process per GPU: the consumer could not create its context.
      int mode = cudaComputeModeDefault;
      if (cudaDeviceGetAttribute(&mode, cudaDevAttrComputeMode, 0) == cudaSuccess &&
          mode == cudaComputeModeExclusiveProcess)
        GTEST_SKIP() << "the GPU is in Exclusive_Process compute mode: two processes cannot share it";
    }
    producer_ = bin_dir() + "/ferry-ipc-producer" FERRY_IPC_EXAMPLE_SUFFIX;
    consumer_ = bin_dir() + "/ferry-ipc-consumer" FERRY_IPC_EXAMPLE_SUFFIX;
    if (::access(producer_.c_str(), X_OK) != 0) GTEST_SKIP() << producer_ << " is not built";
    socket_ = "@ferry-ipc-test-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }
  std::string producer_, consumer_, socket_;
};

TEST_F(IpcTwoProcesses, ConsumerReceivesEveryBatchIntact) {
  const pid_t p = spawn(producer_, {"--socket", socket_, "--batches", "300", "--buffers", "4", "--bytes", "1048576"});
  const pid_t c = spawn(consumer_, {"--socket", socket_, "--expect", "300"});
  const int cs = wait_for(c, std::chrono::seconds(120));
  const int ps = wait_for(p, std::chrono::seconds(30));
  EXPECT_TRUE(WIFEXITED(cs) && WEXITSTATUS(cs) == 0) << "consumer status " << cs;
  EXPECT_TRUE(WIFEXITED(ps) && WEXITSTATUS(ps) == 0) << "producer status " << ps;
}

TEST_F(IpcTwoProcesses, KilledConsumerGivesItsBuffersBack) {
  const pid_t p = spawn(producer_, {"--socket", socket_, "--batches", "300", "--buffers", "4", "--bytes", "1048576"});
  const pid_t c = spawn(consumer_, {"--socket", socket_, "--die-after", "7"});
  const int cs = wait_for(c, std::chrono::seconds(120));
  const int ps = wait_for(p, std::chrono::seconds(60));
  EXPECT_TRUE(WIFSIGNALED(cs) && WTERMSIG(cs) == SIGKILL) << "consumer status " << cs;
  // The producer exits 0 only when every buffer is back in its pool.
  EXPECT_TRUE(WIFEXITED(ps) && WEXITSTATUS(ps) == 0) << "producer status " << ps;
}

}  // namespace
}  // namespace ferry::cuda
