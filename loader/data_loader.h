#pragma once
/// DataLoader: batches from a Dataset, produced by worker processes straight
/// into shared memory.
///
///   ferry::LoaderOptions opt;
///   opt.batch_size = 256; opt.num_workers = 8; opt.shuffle = true; opt.seed = 1;
///   ferry::DataLoader loader(dataset, opt);
///   for (int epoch = 0; epoch < 90; ++epoch)
///     for (auto& batch : loader) train(batch["image"], batch["label"]);
///
/// Each range-for (begin()) runs one epoch: the sampler's order comes from
/// (seed, epoch), every sample's randomness from (seed, epoch, index), so the
/// bytes do not depend on num_workers, threads, timing, or in_order.
///
/// Errors arrive at the consumer, in order: SampleFailed (dataset exception or
/// bad file, with worker id, sample index and message), WorkerCrashed (pid and
/// signal), Timeout. After an error, of any kind, the epoch ends; the batch it
/// concerned counts as not delivered (state() lets a resumed run redo it), and
/// the next begin() starts the next epoch, with fresh workers if any died. Destroying the loader at any
/// point stops its workers within about a second and leaves nothing behind.
#include <cstdint>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "loader/batch.h"
#include "loader/dataset.h"
#include "loader/iterable_dataset.h"
#include "loader/loader_stats.h"
#include "loader/options.h"

namespace ferry {

namespace detail {
class EpochRunner;
}

class DataLoader {
 public:
  DataLoader(std::shared_ptr<Dataset> dataset, LoaderOptions options);
  /// An iterable dataset (iterable_dataset.h): its streams read in batches
  /// and delivered round-robin; shuffle and sampler do not apply.
  DataLoader(std::shared_ptr<IterableDataset> dataset, LoaderOptions options);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  /// Batches per epoch; -1 for an iterable dataset that does not know its size.
  int64_t size() const;
  const LoaderOptions& options() const { return options_; }
  const Schema& schema() const { return schema_; }
  /// Bytes of one batch slot, and of all slots of all workers.
  size_t slot_bytes() const;
  size_t shared_memory_bytes() const;
  /// The epoch the next begin() runs (starts at 0, +1 per begin()).
  uint64_t next_epoch() const { return next_epoch_; }
  void set_epoch(uint64_t epoch) { next_epoch_ = epoch; }
  LoaderStats stats() const;
  /// The resumable position: the current epoch and the batches it delivered,
  /// or the next epoch when none is running.
  LoaderState state() const;
  /// Continues from `state` at the next begin(). Throws InvalidOption when
  /// seed, batch size or dataset size differ from this loader's.
  void load_state(const LoaderState& state);
  /// Several lines: dataset, sampler, options actually used, memory.
  std::string describe() const;
  /// Worker pids of the running pool (empty when none runs).
  std::vector<int> worker_pids() const;

  class Iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;
    using pointer = Batch*;
    using reference = Batch&;

    Iterator() = default;
    Batch& operator*() { return current_; }
    Batch* operator->() { return &current_; }
    Iterator& operator++();
    bool operator==(const Iterator& o) const { return loader_ == o.loader_; }

   private:
    friend class DataLoader;
    explicit Iterator(DataLoader* loader);
    DataLoader* loader_ = nullptr;
    Batch current_;
  };

  /// Starts the next epoch (ending an unfinished one) and yields its first batch.
  Iterator begin();
  Iterator end() { return Iterator(); }

  /// Explicit style: start_epoch(), then next() until it returns false.
  void start_epoch();
  bool next(Batch& out);

  /// Stops the workers now (bounded, never throws). The epoch in progress
  /// ends; state() still names what it delivered, and the next begin() starts
  /// fresh workers. Batches already handed out stay valid.
  void close() noexcept;

 private:
  void build();

  std::shared_ptr<Dataset> dataset_;  // one of these two
  std::shared_ptr<IterableDataset> iterable_;
  LoaderOptions options_;
  Schema schema_;
  uint64_t next_epoch_ = 0;
  std::unique_ptr<detail::EpochRunner> runner_;
};

}  // namespace ferry
