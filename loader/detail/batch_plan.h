#pragma once
// What an epoch is made of, as the runner sees it: work to hand out, the
// completions that come back, the order they go to the consumer in, and the
// position a resumed run starts from. EpochPlan serves map-style datasets
// (the sampler's indices cut into batches), StreamPlan iterable ones
// (streams read in batches, round-robin).
//
// A batch counts as delivered only once the consumer has it, so a failure
// before that leaves it for a resumed run.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "loader/detail/batch_layout.h"
#include "loader/loader_stats.h"
#include "workers/worker_pool.h"

namespace ferry::detail {

class BatchPlan {
 public:
  // One piece of work: `key` names it within the plan; `items` and `worker`
  // go into the Task (worker -1: any).
  struct Work {
    size_t key = 0;
    std::vector<int64_t> items;
    int worker = -1;
  };

  virtual ~BatchPlan() = default;
  virtual uint64_t epoch() const = 0;
  // Every batch delivered (and, for streams, every end known).
  virtual bool complete() const = 0;

  // The next work to hand out whose worker `accepts` it.
  virtual std::optional<Work> next_to_submit(const std::function<bool(int worker)>& accepts) = 0;
  virtual void submitted(uint64_t task_id, const Work& work) = 0;
  // Work with the workers or arrived and waiting for its turn.
  virtual size_t outstanding() const = 0;
  // A completion for this plan joins the reorder buffer; false for one of an
  // abandoned epoch (its memory goes back as it is dropped).
  virtual bool arrived(workers::Completion c) = 0;
  // True when completions wait in the buffer for an earlier batch.
  virtual bool holds_arrivals() const = 0;
  // The next completion the consumer may have (its turn, or any when not
  // in_order), removed from the buffer; not yet delivered.
  virtual std::optional<std::pair<size_t, workers::Completion>> take_deliverable(bool in_order) = 0;
  // The work the calling thread produces next (num_workers 0), in order.
  virtual std::optional<Work> next_in_thread() const = 0;

  // `key` was produced as `payload`. False when it holds no batch (a stream
  // that ended exactly at a batch boundary): the plan notes it and moves on.
  virtual bool holds_batch(size_t key, const BatchPayload& payload) = 0;
  // For a batch: its position in the epoch, and the ids of its samples
  // (dataset indices; positions in the stream for iterable datasets).
  virtual int64_t batch_index(size_t key) const = 0;
  virtual std::vector<int64_t> sample_ids(size_t key, const BatchPayload& payload) const = 0;
  virtual void mark_delivered(size_t key, const BatchPayload& payload) = 0;

  // Forgets what is with the workers and in the buffer (the pool that had
  // them stopped); that work is handed out again.
  virtual void drop_outstanding() = 0;
  // The position a resumed run starts from (consumed / stream_batches).
  virtual void save(LoaderState& state) const = 0;
};

}  // namespace ferry::detail
