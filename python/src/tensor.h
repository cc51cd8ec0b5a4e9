#pragma once
/// Batch fields as Python objects.
///
///   Tensor        one strided array in the batch's memory; a DLPack producer
///                 (__dlpack__, __dlpack_device__), so torch.from_dlpack,
///                 numpy.from_dlpack and jax.dlpack take it without a copy.
///   RaggedTensor  a ragged field: `values` (1-D Tensor of all samples) and
///                 `offsets` (int64 Tensor, batch + 1 entries); r[i] is sample i.
///
/// Every Tensor, and every capsule exported from one, holds a copy of the
/// batch's keep-alive (Batch::owner()): the slot goes back to its worker only
/// when the last of them is gone, whichever consumer frees it last.
#include <pybind11/pybind11.h>

#include <cstdint>
#include <memory>

#include "loader/batch.h"

namespace ferry::python {

class Tensor {
 public:
  Tensor(std::shared_ptr<void> owner, TensorView view);

  const TensorView& view() const { return view_; }
  const std::shared_ptr<void>& owner() const { return owner_; }

  /// A "dltensor" capsule, or a "dltensor_versioned" one when the consumer
  /// passes max_version >= (1, 0). Raises BufferError for a non-CPU
  /// dl_device or copy=True (this producer never copies).
  pybind11::capsule dlpack(const pybind11::object& stream, const pybind11::object& max_version,
                           const pybind11::object& dl_device, const pybind11::object& copy) const;

 private:
  std::shared_ptr<void> owner_;
  TensorView view_;
};

class RaggedTensor {
 public:
  RaggedTensor(std::shared_ptr<void> owner, const BatchField& field);
  const Tensor& values() const { return values_; }
  const Tensor& offsets() const { return offsets_; }
  int64_t size() const { return offsets_.view().shape[0] - 1; }
  /// Sample i (negative counts from the end) as a 1-D Tensor view of values.
  Tensor item(int64_t i) const;

 private:
  Tensor values_;
  Tensor offsets_;
};

/// {field name: Tensor or RaggedTensor} for one batch.
pybind11::dict batch_to_dict(const Batch& batch);

void bind_tensors(pybind11::module_& m);

}  // namespace ferry::python
