#pragma once
/// Peak resident memory of a process tree: this process plus its workers.
///
/// sample() reads VmRSS from /proc/<pid>/status for this process and each
/// given pid and keeps the largest sum seen. Shared pages (the batch slot
/// arenas) are counted once per process that maps them, as `ps` and psutil
/// count them, so the figure is an upper bound of what the tree holds.
/// finish() also folds in this process's own getrusage peak, so a spike in
/// the main process between two samples is not missed.
#include <cstdint>
#include <vector>

namespace ferry::bench {

/// VmRSS of `pid` in bytes, or 0 when it cannot be read (the process is gone).
uint64_t process_rss_bytes(int pid);

/// CPU seconds (user + system, all threads) `pid` has used so far, from
/// /proc/<pid>/stat; 0 when it cannot be read.
double process_cpu_seconds(int pid);
/// The same for this process (getrusage, microsecond resolution).
double self_cpu_seconds();

class TreeMemory {
 public:
  /// Samples this process plus `pids` now.
  void sample(const std::vector<int>& pids);
  /// Takes this process's lifetime peak (ru_maxrss) into account.
  void finish();
  uint64_t peak_bytes() const { return peak_; }

 private:
  uint64_t peak_ = 0;
};

}  // namespace ferry::bench
