#pragma once
// Runs epochs: keeps the workers fed (bounded outstanding work), hands the
// consumer each batch in order (or as completed), and produces in the calling
// thread when num_workers is 0. The parts have files of their own: the
// numbers (engine_config.h), the start-method rule (launch_policy.h), the
// epoch's bookkeeping and reorder buffer (batch_plan.h: epoch_plan.h for
// map-style datasets, stream_plan.h for iterable ones), what fills a slot
// (DatasetProducer, StreamProducer), batch views (batch_assembly.h),
// in-thread memory (local_slots.h).
//
// Every failure, of any type and from any part (a worker, the pool, a
// message, assembling or copying a batch), ends the epoch through one path:
// the batch it concerned is not delivered (a resumed run still gets it), the
// pool is stopped when it is broken (or not persistent), and the next
// start_epoch() works.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "loader/batch.h"
#include "loader/dataset.h"
#include "loader/detail/batch_filler.h"
#include "loader/detail/batch_plan.h"
#include "loader/detail/dataset_ref.h"
#include "loader/detail/engine_config.h"
#include "loader/detail/launch_policy.h"
#include "loader/loader_stats.h"
#include "loader/options.h"
#include "workers/worker_pool.h"

namespace ferry::detail {

class LocalSlots;
class DeviceStage;

class EpochRunner {
 public:
  EpochRunner(DatasetRef dataset, const LoaderOptions& options, const Schema& schema);
  ~EpochRunner();

  int64_t batches_per_epoch() const;
  void start_epoch(uint64_t epoch);
  // The next batch of the current epoch; false when it is over.
  bool next(Batch& out);
  // Fills in the position of the epoch in progress: running (until next()
  // returned false), or ended early (a failure, close()) before all its
  // batches were delivered. False when there is none.
  bool save_unfinished(LoaderState& state) const;
  // The next start_epoch() continues from `state`'s position in its epoch.
  void resume_from(const LoaderState& state) { resume_ = state; }
  // Stops the workers now; a later start_epoch() starts new ones.
  void close() noexcept;

  LoaderStats stats() const;
  size_t slot_bytes() const { return config_.slot_bytes; }
  size_t shared_memory_bytes() const { return config_.shared_memory_bytes; }
  std::vector<int> worker_pids() const;
  // The CUDA stage in one line (empty when pin_memory and device are off).
  std::string device_description() const;

 private:
  // A produced batch before it is a Batch.
  struct Produced {
    size_t key = 0;
    std::shared_ptr<void> owner;
    const std::byte* memory = nullptr;
    size_t bytes = 0;
    BatchPayload payload;
  };

  void ensure_pool();
  workers::PoolOptions pool_options();
  void stop_pool() noexcept;
  void submit_ready();
  Produced produce_in_thread();
  Produced receive_from_workers();
  void end_epoch_after_failure() noexcept;
  void account(const BatchPayload& payload);

  DatasetRef dataset_;
  LoaderOptions options_;
  int64_t dataset_size_ = 0;
  std::shared_ptr<Sampler> sampler_;  // map-style datasets
  std::shared_ptr<BatchFiller> filler_;
  std::shared_ptr<workers::Producer>
      producer_;  // what fills a slot: in each worker (a copy), or here for num_workers 0
  EngineConfig config_;
  LaunchPolicy launch_;
  std::unique_ptr<DeviceStage> device_;  // null: batches stay in ordinary host memory
  std::string device_note_;              // why pin_memory=auto is off

  std::unique_ptr<workers::WorkerPool> pool_;
  std::shared_ptr<LocalSlots> local_;  // num_workers 0

  std::unique_ptr<BatchPlan> plan_;
  bool active_ = false;  // next() may still yield batches of plan_
  std::optional<LoaderState> resume_;
  uint64_t next_task_id_ = 1;

  LoaderStats stats_;
  workers::PoolStats retired_pool_stats_;  // of pools already stopped
};

}  // namespace ferry::detail
