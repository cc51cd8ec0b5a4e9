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
///
/// Fields of a device batch (DataLoader(device="cuda")) are kDLCUDA tensors.
/// __dlpack__(stream=S) makes the consumer's stream S wait (on the GPU) for
/// the batch's copy, and remembers S: the device buffer goes back to the pool
/// once the last holder is gone and every stream named so has passed that
/// point. Streams follow the DLPack rule: None or 1 the legacy default stream,
/// 2 the per-thread default stream, -1 no synchronization, any other integer a
/// cudaStream_t; 0 is refused as ambiguous.
#include <pybind11/pybind11.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "loader/batch.h"

namespace ferry::python {

/// Where a field's memory lives: the host (device -1, page-locked or not) or
/// a device batch's GPU memory (`memory` owned by the batch's keep-alive).
struct Placement {
  int device = -1;
  DeviceMemory* memory = nullptr;
  bool page_locked = false;

  static Placement of(const Batch& batch) { return {batch.device(), batch.device_memory(), batch.page_locked()}; }
};

class Tensor {
 public:
  Tensor(std::shared_ptr<void> owner, TensorView view, Placement where = {});

  const TensorView& view() const { return view_; }
  const std::shared_ptr<void>& owner() const { return owner_; }
  const Placement& placement() const { return where_; }
  /// (kDLCPU, 0) or (kDLCUDA, device).
  std::pair<int, int> dlpack_device() const;

  /// A "dltensor" capsule, or a "dltensor_versioned" one when the consumer
  /// passes max_version >= (1, 0). Raises BufferError for a dl_device other
  /// than the field's own or copy=True (this producer never copies). On the
  /// GPU, makes `stream` wait for the batch's copy first (see above).
  pybind11::capsule dlpack(const pybind11::object& stream, const pybind11::object& max_version,
                           const pybind11::object& dl_device, const pybind11::object& copy) const;

 private:
  void wait_for_copy(const pybind11::object& stream) const;

  std::shared_ptr<void> owner_;
  TensorView view_;
  Placement where_;
};

class RaggedTensor {
 public:
  RaggedTensor(std::shared_ptr<void> owner, const BatchField& field, Placement where = {});
  const Tensor& values() const { return values_; }
  const Tensor& offsets() const { return offsets_; }
  int64_t size() const { return offsets_.view().shape[0] - 1; }
  /// Sample i (negative counts from the end) as a 1-D Tensor view of values.
  Tensor item(int64_t i) const;

 private:
  Tensor values_;
  Tensor offsets_;
};

/// "cpu" for -1, else "cuda:N".
std::string device_name(int device);

/// {field name: Tensor or RaggedTensor} for one batch.
pybind11::dict batch_to_dict(const Batch& batch);

void bind_tensors(pybind11::module_& m);

}  // namespace ferry::python
