#pragma once
// Fills one batch slot from a Dataset: each sample writes straight into its
// place (no per-sample buffer, no collate copy), samples run in parallel on a
// oneTBB arena, and the OnBadSample policy is applied per sample. Used in
// worker processes and, for num_workers 0, in the calling thread.
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "loader/dataset.h"
#include "loader/detail/batch_layout.h"
#include "loader/iterable_dataset.h"
#include "loader/options.h"
#include "workers/producer.h"

namespace tbb {
inline namespace detail {
inline namespace d1 {
class task_arena;
}
}  // namespace detail
}  // namespace tbb

namespace ferry::detail {

class SlotSampleWriter;

// Where a stream is: which one, and the position of its next sample.
struct StreamCursor {
  int64_t stream = 0;
  int64_t next_sample = 0;
};

class BatchFiller {
 public:
  // `dataset` is null for an iterable dataset (only fill_from() is used).
  BatchFiller(std::shared_ptr<Dataset> dataset, SlotLayout layout, const LoaderOptions& options);
  ~BatchFiller();

  // Once per process that fills batches: dataset->open_in_worker, worker_init.
  void start(int worker_id);
  // Produces the samples `indices` of `epoch` into memory from `sink`.
  // Throws workers::ItemFailed for a failed sample (the first by position).
  BatchPayload fill(uint64_t epoch, std::span<const int64_t> indices, workers::SlotSink& sink);
  // Produces the samples of a stream at positions [at.next_sample, end)
  // (advancing `at`); fewer when bad samples are skipped, and
  // payload.stream_end when the stream ends first.
  BatchPayload fill_from(SampleStream& stream, StreamCursor& at, int64_t end, uint64_t epoch, workers::SlotSink& sink);

  const SlotLayout& layout() const { return layout_; }
  uint64_t seed() const { return seed_; }

 private:
  struct SampleOutcome;
  void fill_sample(uint64_t epoch, int64_t index, SlotSampleWriter& writer, workers::SlotSink& sink,
                   SampleOutcome& outcome);
  // The slot-filling core: `produce(position, writer, outcome)` writes one
  // sample; false ends the batch there (sequential sources only).
  BatchPayload fill_with(size_t capacity, workers::SlotSink& sink, bool parallel,
                         const std::function<bool(size_t, SlotSampleWriter&, SampleOutcome&)>& produce);

  std::shared_ptr<Dataset> dataset_;
  SlotLayout layout_;
  uint64_t seed_;
  OnBadSample on_bad_sample_;
  int threads_;
  std::function<void(int, uint64_t)> worker_init_;
  int worker_id_ = -1;
  std::unique_ptr<tbb::task_arena> arena_;
};

// The worker-side Producer: tasks are (epoch, sample indices).
class DatasetProducer final : public workers::Producer {
 public:
  explicit DatasetProducer(std::shared_ptr<BatchFiller> filler) : filler_(std::move(filler)) {}
  void start_worker(int worker_id) override { filler_->start(worker_id); }
  std::vector<std::byte> produce(const workers::Task& task, workers::SlotSink& sink) override {
    return filler_->fill(task.epoch, task.items, sink).encode();
  }

 private:
  std::shared_ptr<BatchFiller> filler_;
};

uint64_t worker_seed(uint64_t seed, int worker_id);

}  // namespace ferry::detail
