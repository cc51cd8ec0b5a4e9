#pragma once
// One epoch's bookkeeping: its batches (the sampler's order cut into
// batch_size pieces), which are delivered, which are with the workers, and
// the completions that arrived ahead of their turn (the reorder buffer).
// A batch counts as delivered only once the consumer has it, so a failure
// before that leaves it for a resumed run.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "workers/worker_pool.h"

namespace ferry::detail {

class EpochPlan {
 public:
  EpochPlan() = default;
  // `order` is the sampler's epoch; `consumed` the batches a loaded state
  // says were delivered already.
  EpochPlan(uint64_t epoch, const std::vector<int64_t>& order, int64_t batch_size, bool drop_last,
            const std::vector<int64_t>& consumed);

  uint64_t epoch() const { return epoch_; }
  size_t batches() const { return batches_.size(); }
  const std::vector<int64_t>& indices(size_t batch) const { return batches_[batch]; }
  bool complete() const { return delivered_count_ == batches_.size(); }
  std::vector<int64_t> delivered() const;

  // The lowest batch neither delivered nor handed out, if any.
  std::optional<size_t> next_to_submit();
  void submitted(uint64_t task_id, size_t batch);
  // Batches with the workers or arrived and waiting for their turn.
  size_t outstanding() const { return with_workers_.size() + arrived_.size(); }
  // A completion for this epoch joins the reorder buffer; false for one of an
  // abandoned epoch (its memory goes back as it is dropped).
  bool arrived(workers::Completion c);
  // The next completion the consumer may have: the lowest batch's when
  // in_order, else any that arrived. Removed from the buffer, not yet delivered.
  std::optional<std::pair<size_t, workers::Completion>> take_deliverable(bool in_order);
  // True when completions wait in the buffer for an earlier batch.
  bool holds_arrivals() const { return !arrived_.empty(); }
  // The lowest batch not yet delivered (the one in_order waits for).
  size_t next_to_deliver() const { return next_deliver_; }
  void mark_delivered(size_t batch);
  // Forgets what is with the workers and in the buffer (the pool that had
  // them stopped); those batches are handed out again.
  void drop_outstanding();

 private:
  uint64_t epoch_ = 0;
  std::vector<std::vector<int64_t>> batches_;
  std::vector<char> delivered_;
  size_t delivered_count_ = 0;
  std::vector<char> handed_out_;
  size_t next_submit_ = 0;
  size_t next_deliver_ = 0;
  std::unordered_map<uint64_t, size_t> with_workers_;  // task id -> batch
  std::map<size_t, workers::Completion> arrived_;      // by batch
};

}  // namespace ferry::detail
