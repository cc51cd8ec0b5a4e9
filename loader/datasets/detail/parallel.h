#pragma once
/// parallel_for_index: runs fn(i) for i in [0, n) on up to `threads` plain
/// std::threads that take indices from a shared counter (internal).
///
/// Plain threads rather than TBB: indexing is I/O-bound (one folder or shard
/// per task), and std::thread synchronization is visible to ThreadSanitizer,
/// which the system's uninstrumented libtbb is not.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace ferry::detail {

/// `threads` <= 0 means std::thread::hardware_concurrency(). The first
/// exception thrown by fn stops the remaining work and is rethrown here.
template <class Fn>
void parallel_for_index(size_t n, int threads, Fn&& fn) {
  size_t t = threads > 0 ? static_cast<size_t>(threads) : std::max(1u, std::thread::hardware_concurrency());
  t = std::min(t, n);
  if (t <= 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&] {
    for (size_t i; !failed.load(std::memory_order_relaxed) && (i = next.fetch_add(1)) < n;) {
      try {
        fn(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        failed = true;
      }
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(t - 1);
  for (size_t k = 0; k + 1 < t; ++k) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace ferry::detail
