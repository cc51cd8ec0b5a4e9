#pragma once
/// The Dataset interface a user implements, and the schema of a batch.
///
/// A batch is a set of named fields. A fixed field has the same shape for
/// every sample (`image` uint8 {224,224,3}); the batch holds it as
/// {batch_size, shape...}. A ragged field has a per-sample length (tokens,
/// raw bytes): the batch holds all samples' values back to back plus
/// batch_size+1 offsets, like a CSR row pointer.
///
/// A sample never allocates: Dataset::get writes straight into its place in
/// the batch's shared memory through SampleWriter.
#include <cstdint>
#include <string>
#include <vector>

#include "base/dtype.h"
#include "base/rng.h"

namespace ferry {

struct FieldSpec {
  std::string name;             ///< e.g. "image", "label"
  DType dtype = DType::kUInt8;  ///< element type
  std::vector<int64_t> shape;   ///< per-sample shape; {} for a scalar
  bool ragged = false;          ///< per-sample variable length (1-D)
  /// For ragged fields: the expected elements per sample, used to size the
  /// batch slot. Larger samples still work (the batch spills to a one-off
  /// segment), they are just slower.
  int64_t ragged_capacity = 0;
};

using Schema = std::vector<FieldSpec>;

/// Bytes one sample of a fixed field occupies.
int64_t sample_bytes(const FieldSpec& f);

/// What a sample knows about itself while it is produced.
struct SampleContext {
  int64_t index = 0;   ///< the sample's index in the dataset
  uint64_t epoch = 0;  ///< current epoch
  uint64_t seed = 0;   ///< the loader's base seed
  int worker_id = -1;  ///< -1 when produced in the calling thread
  /// The sample's own generator, derived from (seed, epoch, index): the same
  /// sample gets the same numbers whatever worker, thread or batch runs it.
  Rng rng{0};
  /// Add the decoder's warnings here (e.g. "premature end of data"); the
  /// loader counts them in its statistics instead of passing them silently.
  int64_t warnings = 0;
};

/// Where one sample writes its fields. Implemented by the loader.
class SampleWriter {
 public:
  virtual ~SampleWriter() = default;
  /// This sample's place for fixed field `field` (sample_bytes(spec) bytes).
  virtual void* fixed(size_t field) = 0;
  /// Reserves `count` elements of ragged field `field` for this sample and
  /// returns where to write them. Call at most once per field and sample.
  virtual void* ragged(size_t field, int64_t count) = 0;

  template <class T>
  T* fixed_as(size_t field) {
    return static_cast<T*>(fixed(field));
  }
};

/// How to rebuild a dataset in another process (the spawn start method): a
/// kind registered with register_dataset() (dataset_registry.h) and the
/// arguments its factory takes. An empty kind means "fork only".
struct DatasetSpec {
  std::string kind;
  std::string args;
};

/// A map-style dataset: `size()` samples addressed by index.
///
/// Thread safety: `get` is called concurrently from several threads of one
/// worker process (with different indices); keep per-call state on the stack
/// or thread_local. Under the fork start method each worker gets a copy of the
/// object as it was when the workers started.
class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  virtual Schema schema() const = 0;
  /// Produces sample `ctx.index` into `out`. Throw ferry::BadSample for
  /// unusable input (the loader's OnBadSample policy applies); any other
  /// exception fails the batch with the sample index and message.
  virtual void get(SampleContext& ctx, SampleWriter& out) = 0;
  /// Called once in each worker process (and once for num_workers 0) before
  /// the first sample: open files, build caches.
  virtual void open_in_worker(int /*worker_id*/) {}
  /// One line for reports, e.g. "ImageFolder(/data/train, 1000 classes)".
  virtual std::string describe() const { return "Dataset"; }
  /// How a spawned worker rebuilds this dataset; {} when it cannot.
  virtual DatasetSpec spec() const { return {}; }
};

}  // namespace ferry
