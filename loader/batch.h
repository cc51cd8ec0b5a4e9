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

/// For the loader: what a device batch can do (implemented over cuda::DeviceBatch).
class DeviceMemory {
 public:
  virtual ~DeviceMemory() = default;
  virtual int device() const noexcept = 0;
  virtual void* stream() const noexcept = 0;
  virtual void* ready_event() const = 0;
  virtual void wait_on(void* stream) const = 0;
  virtual void synchronize() const = 0;
  virtual void release_after(void* stream) = 0;
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

  /// True when the batch's host memory is page-locked (LoaderOptions::
  /// pin_memory), so an async copy from it to a GPU is one DMA transfer. False
  /// without pin_memory, for device batches, and for a batch that lives in a
  /// one-off segment (larger than a slot, or produced while the consumer held
  /// every slot of its worker): such a batch is correct but pageable, and
  /// LoaderStats::pageable_batches counts it.
  bool page_locked() const { return page_locked_ && owner_ != nullptr; }
  /// For the loader.
  void set_page_locked(bool locked) { page_locked_ = locked; }

  /// The CUDA device the fields live on, or -1 for host memory.
  int device() const { return on_device() ? device_->device() : -1; }
  /// Device batches: the cudaStream_t the copy was queued on (null on the host).
  void* stream() const { return on_device() ? device_->stream() : nullptr; }
  /// Device batches: the cudaEvent_t that completes when the copy has landed
  /// (null on the host); valid while the batch is held.
  void* ready_event() const { return on_device() ? device_->ready_event() : nullptr; }
  /// Device batches: makes `stream` (a cudaStream_t; null = legacy default
  /// stream) wait on the GPU for the copy; the CPU does not block. Host: no-op.
  void wait_on(void* stream) const {
    if (on_device()) device_->wait_on(stream);
  }
  /// Device batches: blocks until the copy has landed. Host: no-op.
  void synchronize() const {
    if (on_device()) device_->synchronize();
  }
  /// Returns the memory once the work queued so far on `stream` (a
  /// cudaStream_t) has completed; on the host the same as release().
  void release_after(void* stream) {
    if (on_device()) device_->release_after(stream);
    owner_.reset();
  }

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
  /// Device batches: the object behind wait_on()/release_after(), owned by
  /// owner() (valid while any copy of it lives), for holders that outlive
  /// this Batch (a DLPack capsule); null on the host.
  DeviceMemory* device_memory() const { return on_device() ? device_ : nullptr; }

  /// For the loader: the same batch over a copy of its memory at
  /// `device_memory` (`bytes` long) that `owner` keeps alive and `device`
  /// (owned by `owner`) describes; field pointers keep their offsets.
  Batch moved_to_device(std::shared_ptr<void> owner, DeviceMemory* device, std::byte* device_memory, size_t bytes) &&;

 private:
  bool on_device() const { return device_ != nullptr && owner_ != nullptr; }

  std::shared_ptr<void> owner_;
  DeviceMemory* device_ = nullptr;  // device batches: owned by owner_
  bool page_locked_ = false;
  const std::byte* memory_ = nullptr;
  size_t memory_bytes_ = 0;
  int64_t samples_ = 0;
  int64_t index_ = 0;
  uint64_t epoch_ = 0;
  std::vector<int64_t> sample_indices_;
  std::vector<BatchField> fields_;
};

}  // namespace ferry
