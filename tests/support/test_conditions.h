#pragma once
// Conditions the engine tests put a process in: another thread running, the
// open-file limit reached, and waiting on observable state with a deadline.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace ferry::testing {

// True once `condition()` holds; false when `seconds` pass first.
template <class F>
bool eventually(F condition, double seconds = 10.0) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

// A thread parked until the end of the scope, like a training process's own.
class ExtraThread {
 public:
  ExtraThread()
      : thread_([this] {
          std::unique_lock lock(mutex_);
          cv_.wait(lock, [this] { return done_; });
        }) {}
  ~ExtraThread() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  ExtraThread(const ExtraThread&) = delete;
  ExtraThread& operator=(const ExtraThread&) = delete;

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

// Lowers RLIMIT_NOFILE to 256 and fills the fd table; restores both at the
// end of the scope.
class AtOpenFileLimit {
 public:
  AtOpenFileLimit() {
    getrlimit(RLIMIT_NOFILE, &saved_);
    rlimit low = saved_;
    low.rlim_cur = 256;
    setrlimit(RLIMIT_NOFILE, &low);
    fill();
  }
  ~AtOpenFileLimit() {
    for (int fd : fillers_) close(fd);
    setrlimit(RLIMIT_NOFILE, &saved_);
  }
  AtOpenFileLimit(const AtOpenFileLimit&) = delete;
  AtOpenFileLimit& operator=(const AtOpenFileLimit&) = delete;

  // Frees one fd (e.g. for a sender's memfd), or takes the free ones again.
  void free_one() {
    close(fillers_.back());
    fillers_.pop_back();
  }
  void fill() {
    for (int fd; (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) fillers_.push_back(fd);
  }

 private:
  rlimit saved_{};
  std::vector<int> fillers_;
};

}  // namespace ferry::testing
