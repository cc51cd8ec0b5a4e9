#pragma once
// The plan of a map-style epoch: the sampler's order cut into batch_size
// pieces, handed out lowest first, delivered in order (or as completed).
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "loader/detail/batch_plan.h"

namespace ferry::detail {

class EpochPlan final : public BatchPlan {
 public:
  // `order` is the sampler's epoch; `consumed` the batches a loaded state
  // says were delivered already.
  EpochPlan(uint64_t epoch, const std::vector<int64_t>& order, int64_t batch_size, bool drop_last,
            const std::vector<int64_t>& consumed);

  uint64_t epoch() const override { return epoch_; }
  bool complete() const override { return delivered_count_ == batches_.size(); }
  std::optional<Work> next_to_submit(const std::function<bool(int)>& accepts) override;
  void submitted(uint64_t task_id, const Work& work) override;
  size_t outstanding() const override { return with_workers_.size() + arrived_.size(); }
  bool arrived(workers::Completion c) override;
  bool holds_arrivals() const override { return !arrived_.empty(); }
  std::optional<std::pair<size_t, workers::Completion>> take_deliverable(bool in_order) override;
  std::optional<Work> next_in_thread() const override;
  bool holds_batch(size_t, const BatchPayload&) override { return true; }
  int64_t batch_index(size_t key) const override { return int64_t(key); }
  std::vector<int64_t> sample_ids(size_t key, const BatchPayload&) const override { return batches_[key]; }
  void mark_delivered(size_t key, const BatchPayload&) override { mark_delivered(key); }
  void drop_outstanding() override;
  void save(LoaderState& state) const override { state.consumed = delivered(); }

 private:
  void mark_delivered(size_t batch);
  std::vector<int64_t> delivered() const;

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
