#pragma once
// Runs epochs: cuts the sampler's order into batches, keeps workers fed
// (prefetch_factor per worker, bounded outstanding), reorders results, turns
// failures into the consumer's exceptions, and produces in the calling thread
// when num_workers is 0.
#include <cstdint>
#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

#include "loader/batch.h"
#include "loader/data_loader.h"
#include "loader/detail/batch_filler.h"
#include "workers/worker_pool.h"

namespace ferry::detail {

class LocalSlots;
class DeviceStage;

class EpochRunner {
 public:
  EpochRunner(std::shared_ptr<Dataset> dataset, const LoaderOptions& options, const Schema& schema);
  ~EpochRunner();

  int64_t batches_per_epoch() const;
  void start_epoch(uint64_t epoch);
  // The batches of the current epoch delivered so far (empty between epochs).
  std::vector<int64_t> delivered_batches() const;
  bool epoch_active() const { return active_; }
  // The next start_epoch() treats these batches as already consumed.
  void resume_after(std::vector<int64_t> consumed_batches) { resume_done_ = std::move(consumed_batches); }
  // The next batch of the current epoch; false when it is over.
  bool next(Batch& out);
  LoaderStats stats() const;
  size_t slot_bytes() const { return filler_->layout().bytes(); }
  size_t shared_memory_bytes() const;
  std::vector<int> worker_pids() const;
  // The CUDA stage in one line (empty when pin_memory and device are off).
  std::string device_description() const;

 private:
  void ensure_pool();
  void choose_launch(workers::PoolOptions& po);
  void stop_pool() noexcept;
  void submit_ready();
  void mark_delivered(size_t batch);
  bool next_from_workers(Batch& out);
  bool next_in_process(Batch& out);
  Batch assemble(std::shared_ptr<void> owner, const std::byte* memory, size_t bytes, const BatchPayload& payload,
                 size_t batch_index);
  void account(const BatchPayload& payload);
  [[noreturn]] void fail_epoch_and_rethrow();

  std::shared_ptr<Dataset> dataset_;
  LoaderOptions options_;
  int64_t dataset_size_ = 0;
  std::shared_ptr<Sampler> sampler_;
  std::shared_ptr<BatchFiller> filler_;
  std::unique_ptr<workers::WorkerPool> pool_;
  std::shared_ptr<LocalSlots> local_;
  bool local_started_ = false;
  bool warned_unsafe_fork_ = false;
  std::unique_ptr<DeviceStage> device_;  // null: batches stay in ordinary host memory
  std::string device_note_;              // why pin_memory=auto is off

  // The current epoch.
  uint64_t epoch_ = 0;
  bool active_ = false;
  std::vector<std::vector<int64_t>> batches_;
  size_t next_submit_ = 0;
  size_t next_yield_ = 0;        // the lowest batch not yet delivered
  std::vector<char> delivered_;  // per batch: delivered (or skipped by a resume)
  size_t delivered_count_ = 0;
  std::vector<int64_t> resume_done_;  // batches a loaded state says are consumed
  uint64_t next_task_id_ = 1;
  std::unordered_map<uint64_t, size_t> task_batch_;  // in flight, this epoch
  std::map<size_t, workers::Completion> done_;       // arrived, not yet yielded

  mutable LoaderStats stats_;
  workers::PoolStats retired_pool_stats_;  // from pools already stopped
};

}  // namespace ferry::detail
