#pragma once
/// A Batch: the fields of one batch as tensor views into shared memory. The
/// worker wrote them there; nothing was copied on the way. A Batch is a
/// move-only handle: dropping it returns its memory to the worker that
/// produced it, so keep it only as long as you need the data (or copy out).
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/dtype.h"

namespace ferry {

/// A strided view of elements of one dtype (strides in elements, row-major).
struct TensorView {
  void* data = nullptr;
  DType dtype = DType::kUInt8;
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;

  int64_t numel() const;
  size_t nbytes() const { return size_t(numel()) * dtype_size(dtype); }
  template <class T>
  T* data_as() const {
    return static_cast<T*>(data);
  }
};

struct BatchField {
  std::string name;
  TensorView values;  ///< fixed: {batch, shape...}; ragged: 1-D, all samples' values
  bool ragged = false;
  TensorView offsets;  ///< ragged only: int64 {batch + 1}; sample i is values[offsets[i], offsets[i+1])
};

class Batch {
 public:
  Batch() = default;
  Batch(Batch&&) noexcept = default;
  Batch& operator=(Batch&&) noexcept = default;
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;

  /// Samples in this batch (batch_size, or fewer for a last partial batch).
  int64_t size() const { return samples_; }
  /// Position of this batch in its epoch (sampler order).
  int64_t index() const { return index_; }
  uint64_t epoch() const { return epoch_; }
  /// The dataset indices of the samples, in batch order.
  std::span<const int64_t> sample_indices() const { return sample_indices_; }

  const std::vector<BatchField>& fields() const { return fields_; }
  /// The field named `name`; throws std::out_of_range listing the names.
  const BatchField& field(std::string_view name) const;
  /// Shorthand for field(name).values.
  const TensorView& operator[](std::string_view name) const { return field(name).values; }

  /// The memory this batch lives in (one slot): [data, data + bytes).
  const std::byte* memory() const { return memory_; }
  size_t memory_bytes() const { return memory_bytes_; }
  bool valid() const { return owner_ != nullptr; }
  /// Returns the memory now (same as destroying the batch).
  void release() { owner_.reset(); }

  /// For the loader: assembles a batch over `owner`'s memory.
  Batch(std::shared_ptr<void> owner, const std::byte* memory, size_t memory_bytes, int64_t samples, int64_t index,
        uint64_t epoch, std::vector<int64_t> sample_indices, std::vector<BatchField> fields)
      : owner_(std::move(owner)),
        memory_(memory),
        memory_bytes_(memory_bytes),
        samples_(samples),
        index_(index),
        epoch_(epoch),
        sample_indices_(std::move(sample_indices)),
        fields_(std::move(fields)) {}

  /// The keep-alive of the memory; share it to extend the batch's memory
  /// lifetime (e.g. a DLPack capsule).
  const std::shared_ptr<void>& owner() const { return owner_; }

 private:
  std::shared_ptr<void> owner_;
  const std::byte* memory_ = nullptr;
  size_t memory_bytes_ = 0;
  int64_t samples_ = 0;
  int64_t index_ = 0;
  uint64_t epoch_ = 0;
  std::vector<int64_t> sample_indices_;
  std::vector<BatchField> fields_;
};

}  // namespace ferry
