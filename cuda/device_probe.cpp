// device_status() without initializing CUDA here: the probe runs in a forked
// child that reports over a pipe and exits, so the parent keeps no context and
// none of the driver's threads before it forks its workers.
#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "cuda/runtime.h"

namespace ferry::cuda {
namespace {

// What the child writes: DeviceStatus as plain bytes.
struct WireStatus {
  bool available = false;
  int device_count = 0;
  int compute_capability = 0;
  int driver_version = 0;
  int runtime_version = 0;
  char name[256] = {};
  char reason[1024] = {};
};

template <size_t N>
void copy_text(char (&out)[N], const std::string& in) {
  const size_t n = std::min(in.size(), N - 1);
  std::memcpy(out, in.data(), n);
  out[n] = '\0';
}

[[noreturn]] void run_child(int out_fd) {
  const DeviceStatus st = device_status();
  WireStatus w;
  w.available = st.available;
  w.device_count = st.device_count;
  w.compute_capability = st.compute_capability;
  w.driver_version = st.driver_version;
  w.runtime_version = st.runtime_version;
  copy_text(w.name, st.name);
  copy_text(w.reason, st.reason);
  const char* p = reinterpret_cast<const char*>(&w);
  size_t left = sizeof w;
  while (left > 0) {
    const ssize_t n = ::write(out_fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    p += n;
    left -= size_t(n);
  }
  // No exit handlers: they belong to the parent (and to an interpreter).
  ::_exit(0);
}

// Reads one WireStatus from `fd` within `timeout`; false on timeout or EOF.
bool read_status(int fd, WireStatus& w, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char* p = reinterpret_cast<char*>(&w);
  size_t got = 0;
  while (got < sizeof w) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd pfd{fd, POLLIN, 0};
    const int r = ::poll(&pfd, 1, int(std::min<int64_t>(left.count(), 60'000)));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;  // timeout: re-check the deadline
    const ssize_t n = ::read(fd, p + got, sizeof w - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    got += size_t(n);
  }
  return true;
}

void reap(pid_t pid, bool kill_first) {
  if (kill_first) ::kill(pid, SIGKILL);
  // ECHILD (SIGCHLD ignored by the embedding program) leaves nothing to reap.
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

DeviceStatus device_status_in_child(std::chrono::milliseconds timeout) noexcept {
  DeviceStatus st;
  try {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      st.reason = "could not probe the GPU: pipe2 failed: " + std::string(std::strerror(errno));
      return st;
    }
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(fds[0]);
      run_child(fds[1]);
    }
    ::close(fds[1]);
    if (pid < 0) {
      ::close(fds[0]);
      st.reason = "could not probe the GPU: fork failed: " + std::string(std::strerror(errno));
      return st;
    }
    WireStatus w;
    const bool ok = read_status(fds[0], w, timeout);
    ::close(fds[0]);
    reap(pid, !ok);
    if (!ok) {
      st.reason = "the GPU probe (a child process calling cudaGetDeviceCount) gave no answer within " +
                  std::to_string(timeout.count()) + " ms; check nvidia-smi and the driver";
      return st;
    }
    st.available = w.available;
    st.device_count = w.device_count;
    st.compute_capability = w.compute_capability;
    st.driver_version = w.driver_version;
    st.runtime_version = w.runtime_version;
    st.name = w.name;
    st.reason = w.reason;
  } catch (...) {  // std::string allocation; keep the promise of noexcept
    st.available = false;
    if (st.reason.empty()) st.reason = "device_status_in_child: out of memory";
  }
  return st;
}

bool driver_initialized() noexcept {
  // The runtime loads the driver library at its first call that needs it;
  // not loaded means not initialized. Loaded, the driver itself says: before
  // cuInit every call returns CUDA_ERROR_NOT_INITIALIZED (3) and changes
  // nothing.
  void* driver = ::dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
  if (driver == nullptr) return false;
  using DeviceGetCount = int (*)(int*);
  auto get_count = reinterpret_cast<DeviceGetCount>(::dlsym(driver, "cuDeviceGetCount"));
  int count = 0;
  const bool initialized = get_count == nullptr || get_count(&count) != 3;
  ::dlclose(driver);
  return initialized;
}

}  // namespace ferry::cuda
