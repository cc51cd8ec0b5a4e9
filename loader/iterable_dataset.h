#pragma once
/// Iterable datasets: samples read front to back as streams, not addressed
/// by index (WebDataset-style tar shards, a database cursor, a Python
/// `__iter__`).
///
/// An epoch of an IterableDataset is `streams()` streams. The loader gives
/// each stream to one worker (stream s to worker s % num_workers), reads it
/// in batches of batch_size (a stream's last batch may be shorter), and
/// yields the batches round-robin over the streams in stream order: batch 0
/// of every stream, then batch 1 of every stream still running, and so on.
/// So when the streams do not depend on the worker count (shards dealt to a
/// fixed number of streams), the batches are identical for any num_workers,
/// 0 included, and a resumed run (LoaderState: batches delivered per stream)
/// continues exactly.
///
///   class Lines : public ferry::IterableDataset { ... };
///   ferry::DataLoader loader(std::make_shared<Lines>(...), options);
///   for (auto& batch : loader) ...
#include <cstdint>
#include <memory>
#include <string>

#include "loader/dataset.h"

namespace ferry {

/// Where a stream is opened: its number and what the loader knows.
struct StreamContext {
  int64_t stream = 0;  ///< 0 .. streams() - 1
  uint64_t epoch = 0;
  uint64_t seed = 0;   ///< the loader's base seed
  int worker_id = -1;  ///< -1 in the calling thread (num_workers 0)
  int num_workers = 0;
};

/// One stream being read.
class SampleStream {
 public:
  virtual ~SampleStream() = default;
  /// Writes the stream's next sample into `out`; false at its end (nothing
  /// written). ctx.index is the sample's position in the stream and ctx.rng
  /// its own generator, from (seed, epoch, stream, position). Throw
  /// ferry::BadSample for unusable input (the OnBadSample policy applies:
  /// skip takes the stream's next sample instead).
  virtual bool next(SampleContext& ctx, SampleWriter& out) = 0;
  /// Passes over the next `n` samples without producing them (a resumed run,
  /// a respawned worker); returns how many there were (fewer at the end), or
  /// -1 when it cannot, and the loader then reads them with next() into
  /// scratch memory. A stream that can seek or read without decoding should.
  virtual int64_t skip(int64_t /*n*/) { return -1; }
};

class IterableDataset {
 public:
  virtual ~IterableDataset() = default;
  virtual Schema schema() const = 0;
  /// The streams of an epoch. `num_workers` is given for datasets that split
  /// their data by worker (as PyTorch's IterableDataset does with
  /// get_worker_info()); their batches then depend on the worker count.
  virtual int64_t streams(uint64_t epoch, int num_workers) const = 0;
  /// Opens one stream at its start. Called in the process that reads it.
  virtual std::unique_ptr<SampleStream> open(const StreamContext& ctx) = 0;
  /// Once in each worker process (and once for num_workers 0) before any stream.
  virtual void open_in_worker(int /*worker_id*/) {}
  /// Samples per epoch when known (for DataLoader::size()), else -1.
  virtual int64_t size_hint() const { return -1; }
  virtual std::string describe() const { return "IterableDataset"; }
  /// How a spawned worker rebuilds this dataset; {} when it cannot.
  virtual DatasetSpec spec() const { return {}; }
};

/// The generator a stream's sample gets: from (seed, epoch, stream, position).
Rng stream_sample_rng(uint64_t seed, uint64_t epoch, int64_t stream, int64_t position);

}  // namespace ferry
