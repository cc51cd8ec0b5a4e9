#pragma once
/// A read-only view of an array a Python dataset returned, whatever made it:
/// the buffer protocol (numpy arrays, numpy scalars, memoryview, array.array),
/// DLPack (torch CPU tensors, jax, cupy's host arrays), or, last, the numpy
/// array interface (PIL images, objects with __array__). No copy is taken;
/// copy_to() writes the elements row-major into the caller's memory.
#include <pybind11/pybind11.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/dtype.h"

namespace ferry::python {

class HostArray {
 public:
  /// The array behind `value`, or nullopt when `value` exposes none. Throws
  /// std::runtime_error for an array ferry cannot take (device memory, an
  /// element type without a DType), saying which and what to do.
  static std::optional<HostArray> view(pybind11::handle value);
  /// True when `value` would give a view (without taking one).
  static bool looks_like_array(pybind11::handle value);

  HostArray(HostArray&& other) noexcept;
  HostArray& operator=(HostArray&&) = delete;
  HostArray(const HostArray&) = delete;
  ~HostArray();

  DType dtype() const { return dtype_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  int64_t numel() const;
  size_t nbytes() const { return size_t(numel()) * dtype_size(dtype_); }
  /// True for a torch tensor (so collate_fn can get one back).
  bool from_torch() const { return from_torch_; }
  /// Writes the elements, row-major and contiguous, to `dst` (nbytes()).
  void copy_to(void* dst) const;

 private:
  HostArray() = default;
  void release() noexcept;

  DType dtype_ = DType::kUInt8;
  std::vector<int64_t> shape_;
  std::vector<int64_t> byte_strides_;
  const std::byte* data_ = nullptr;
  bool from_torch_ = false;
  // What keeps data_ valid: a buffer, a consumed DLPack tensor, or an object.
  std::optional<Py_buffer> buffer_;
  void* dlpack_ = nullptr;  // DLManagedTensor*, its deleter called on release
  pybind11::object keep_;
};

/// "(3, 224, 224)", as Python prints a shape.
std::string shape_text(const std::vector<int64_t>& shape);
/// "uint8, int32, ...": every DType's name, for messages.
std::string dtype_names();
/// The DType named `name` ("float32"), or nullopt.
std::optional<DType> dtype_named(std::string_view name);

}  // namespace ferry::python
