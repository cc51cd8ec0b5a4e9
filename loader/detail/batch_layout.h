#pragma once
// Where each field of a batch lives inside a slot, and the small description
// (the "payload") a worker sends back so the main process can build views.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "loader/dataset.h"

namespace ferry::detail {

// Fields start on this boundary: wide enough for any SIMD load and for
// cudaMemcpy's fast paths.
inline constexpr size_t kFieldAlignment = 256;

struct FieldPlacement {
  size_t offset = 0;          // values: fixed data, or ragged values
  size_t capacity = 0;        // bytes reserved for the values
  size_t offsets_offset = 0;  // ragged only: batch_size+1 int64 offsets
  int64_t ragged_capacity = 0;
};

// The layout of a full slot for `batch_size` samples of `schema`.
class SlotLayout {
 public:
  SlotLayout(const Schema& schema, int64_t batch_size);
  size_t bytes() const { return bytes_; }
  const std::vector<FieldPlacement>& fields() const { return fields_; }
  const Schema& schema() const { return schema_; }
  int64_t batch_size() const { return batch_size_; }

 private:
  Schema schema_;
  int64_t batch_size_;
  std::vector<FieldPlacement> fields_;
  size_t bytes_ = 0;
};

// What a produced batch says about itself.
struct BatchPayload {
  int64_t samples = 0;
  struct Field {
    uint64_t offset = 0;
    uint64_t offsets_offset = 0;  // ragged
    int64_t ragged_total = 0;     // ragged: total elements
  };
  std::vector<Field> fields;
  int64_t skipped = 0;                   // bad samples replaced (OnBadSample::kSkip)
  int64_t substituted = 0;               // bad samples zeroed (OnBadSample::kSubstitute)
  int64_t warnings = 0;                  // decoder warnings (e.g. premature end of data)
  std::vector<std::string> bad_samples;  // bad_sample_message() of each bad sample asked for
  bool stream_end = false;               // iterable datasets: the stream ended in (or right before) this batch
  std::vector<int64_t> positions;        // iterable datasets: each sample's position in its stream

  std::vector<std::byte> encode() const;
  static BatchPayload decode(std::span<const std::byte> bytes);
};

inline size_t align_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

}  // namespace ferry::detail
