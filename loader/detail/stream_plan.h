#pragma once
// The plan of an iterable epoch: `streams` streams, each read in batches by
// one worker (stream s by worker s % num_workers), delivered round-robin in
// stream order: batch 0 of every stream, then batch 1 of every stream still
// running, ... A stream's length is learnt as it ends (a batch shorter than
// batch_size, or an empty one), so work past its end may be handed out and
// comes back empty. With drop_last a stream's last batch, when short, is
// dropped (each worker's, as torch's DataLoader drops it for an
// IterableDataset).
//
// Work items are {stream, batch}; a key is batch * streams + stream.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

#include "loader/detail/batch_plan.h"

namespace ferry::detail {

class StreamPlan final : public BatchPlan {
 public:
  // `delivered` holds the batches per stream a loaded state says were
  // delivered already (empty: none). `num_workers` 0: the calling thread.
  StreamPlan(uint64_t epoch, int64_t streams, int num_workers, int64_t batch_size, bool drop_last,
             const std::vector<int64_t>& delivered);

  uint64_t epoch() const override { return epoch_; }
  bool complete() const override;
  std::optional<Work> next_to_submit(const std::function<bool(int)>& accepts) override;
  void submitted(uint64_t task_id, const Work& work) override;
  size_t outstanding() const override { return with_workers_.size() + arrived_.size(); }
  bool arrived(workers::Completion c) override;
  bool holds_arrivals() const override { return !arrived_.empty(); }
  std::optional<std::pair<size_t, workers::Completion>> take_deliverable(bool in_order) override;
  std::optional<Work> next_in_thread() const override;
  bool holds_batch(size_t key, const BatchPayload& payload) override;
  int64_t batch_index(size_t) const override { return delivered_total_; }
  std::vector<int64_t> sample_ids(size_t key, const BatchPayload& payload) const override;
  void mark_delivered(size_t key, const BatchPayload& payload) override;
  void drop_outstanding() override;
  void save(LoaderState& state) const override;

 private:
  struct Stream {
    int64_t delivered = 0;    // its first batches delivered
    int64_t next_submit = 0;  // the next of its batches to hand out
    int64_t end = INT64_MAX;  // its number of batches, once known
  };
  size_t key(int64_t batch, int64_t stream) const { return size_t(batch) * streams_.size() + size_t(stream); }
  int64_t batch_of(size_t key) const { return int64_t(key / streams_.size()); }
  int64_t stream_of(size_t key) const { return int64_t(key % streams_.size()); }
  int worker_of(int64_t stream) const { return num_workers_ > 0 ? int(stream % num_workers_) : -1; }
  Work work(int64_t batch, int64_t stream) const;
  // The key whose turn it is, in round-robin order.
  std::optional<size_t> next_in_order() const;
  // Drops work of a stream past its end (it comes back empty).
  bool past_end(size_t key) const { return batch_of(key) >= streams_[size_t(stream_of(key))].end; }

  uint64_t epoch_ = 0;
  int num_workers_ = 0;
  int64_t batch_size_ = 0;
  bool drop_last_ = false;
  std::vector<Stream> streams_;
  int64_t delivered_total_ = 0;
  std::unordered_map<uint64_t, size_t> with_workers_;  // task id -> key
  std::map<size_t, workers::Completion> arrived_;      // by key: round-robin order
};

}  // namespace ferry::detail
