#include "python/src/host_array.h"

#include <cstring>
#include <sstream>
#include <stdexcept>

#include "python/src/dlpack.h"

namespace py = pybind11;

namespace ferry::python {

namespace {

// The buffer protocol's struct-module format of one element, for the types
// ferry has. Native byte order only: every ferry target is little-endian.
std::optional<DType> dtype_of_format(const char* format, Py_ssize_t itemsize) {
  std::string_view f = format ? format : "B";
  if (!f.empty() && (f[0] == '@' || f[0] == '=' || f[0] == '<' || f[0] == '|')) f.remove_prefix(1);
  if (f.size() != 1) return std::nullopt;
  switch (f[0]) {
    case '?':
      return DType::kBool;
    case 'b':
      return DType::kInt8;
    case 'B':
    case 'c':
      return DType::kUInt8;
    case 'h':
      return DType::kInt16;
    case 'H':
      return DType::kUInt16;
    case 'i':
    case 'l':
    case 'q':
      if (itemsize == 4) return DType::kInt32;
      if (itemsize == 8) return DType::kInt64;
      return std::nullopt;
    case 'e':
      return DType::kFloat16;
    case 'f':
      return DType::kFloat32;
    case 'd':
      return DType::kFloat64;
    default:
      return std::nullopt;
  }
}

std::optional<DType> dtype_of_dlpack(const dlpack::DLDataType& t) {
  if (t.lanes != 1) return std::nullopt;
  for (DType d : kAllDTypes) {
    const size_t bits = dtype_size(d) * 8;
    if (t.bits != bits) continue;
    const bool is_float = d == DType::kFloat16 || d == DType::kFloat32 || d == DType::kFloat64;
    const bool is_signed = d == DType::kInt8 || d == DType::kInt16 || d == DType::kInt32 || d == DType::kInt64;
    if ((t.code == dlpack::kDLFloat && is_float) || (t.code == dlpack::kDLInt && is_signed) ||
        (t.code == dlpack::kDLBfloat && d == DType::kBFloat16) || (t.code == dlpack::kDLBool && d == DType::kBool) ||
        (t.code == dlpack::kDLUInt && (d == DType::kUInt8 || d == DType::kUInt16)))
      return d;
  }
  return std::nullopt;
}

[[noreturn]] void unsupported_element(const std::string& what) {
  throw std::runtime_error("its elements are " + what + ", which ferry has no type for (" + dtype_names() +
                           "); convert it in __getitem__, e.g. .astype(numpy.int64)");
}

// Copies a strided array to contiguous `dst`: `ndim` outer dimensions, each
// innermost element a contiguous run of `run` bytes.
void copy_strided(std::byte* dst, const std::byte* src, const int64_t* shape, const int64_t* strides, size_t ndim,
                  size_t run) {
  if (ndim == 0) {
    std::memcpy(dst, src, run);
    return;
  }
  size_t step = run;  // bytes of dst per index of the first dimension
  for (size_t d = 1; d < ndim; ++d) step *= size_t(shape[d]);
  for (int64_t i = 0; i < shape[0]; ++i)
    copy_strided(dst + size_t(i) * step, src + i * strides[0], shape + 1, strides + 1, ndim - 1, run);
}

bool is_torch_type(py::handle value) {
  const py::object module = py::type::handle_of(value).attr("__module__");
  return py::isinstance<py::str>(module) && module.cast<std::string>().rfind("torch", 0) == 0;
}

}  // namespace

std::string shape_text(const std::vector<int64_t>& shape) {
  std::ostringstream o;
  o << "(";
  for (size_t i = 0; i < shape.size(); ++i) o << (i ? ", " : "") << shape[i];
  if (shape.size() == 1) o << ",";
  o << ")";
  return o.str();
}

std::string dtype_names() {
  std::string names;
  for (DType d : kAllDTypes) names += (names.empty() ? "" : ", ") + std::string(dtype_name(d));
  return names;
}

std::optional<DType> dtype_named(std::string_view name) {
  for (DType d : kAllDTypes)
    if (dtype_name(d) == name) return d;
  return std::nullopt;
}

bool HostArray::looks_like_array(py::handle value) {
  return PyObject_CheckBuffer(value.ptr()) || py::hasattr(value, "__dlpack__") ||
         py::hasattr(value, "__array_interface__") || py::hasattr(value, "__array__");
}

std::optional<HostArray> HostArray::view(py::handle value) {
  HostArray a;
  if (PyObject_CheckBuffer(value.ptr())) {
    Py_buffer b;
    if (PyObject_GetBuffer(value.ptr(), &b, PyBUF_RECORDS_RO) != 0) throw py::error_already_set();
    a.buffer_ = b;
    const auto dtype = dtype_of_format(b.format, b.itemsize);
    if (!dtype || dtype_size(*dtype) != size_t(b.itemsize))
      unsupported_element(py::hasattr(value, "dtype")
                              ? py::str(value.attr("dtype")).cast<std::string>()
                              : "of buffer format '" + std::string(b.format ? b.format : "B") + "'");
    a.dtype_ = *dtype;
    a.data_ = static_cast<const std::byte*>(b.buf);
    for (int d = 0; d < b.ndim; ++d) {
      a.shape_.push_back(b.shape[d]);
      a.byte_strides_.push_back(b.strides[d]);
    }
    return a;
  }
  if (py::hasattr(value, "__dlpack__")) {
    if (py::hasattr(value, "__dlpack_device__")) {
      const auto device = value.attr("__dlpack_device__")().cast<std::pair<int, int>>();
      if (device.first != dlpack::kDLCPU && device.first != dlpack::kDLCUDAHost)
        throw std::runtime_error("it lives on a device (DLPack device type " + std::to_string(device.first) +
                                 "), not in host memory; return CPU tensors from __getitem__ (ferry moves "
                                 "batches to the GPU, or use .to(device) on the batch)");
    }
    py::object capsule = value.attr("__dlpack__")();
    auto* m = static_cast<dlpack::DLManagedTensor*>(PyCapsule_GetPointer(capsule.ptr(), "dltensor"));
    if (!m) throw py::error_already_set();
    // Consumed: the capsule no longer frees it; release() calls the deleter.
    PyCapsule_SetName(capsule.ptr(), "used_dltensor");
    a.dlpack_ = m;
    a.from_torch_ = is_torch_type(value);
    const dlpack::DLTensor& t = m->dl_tensor;
    const auto dtype = dtype_of_dlpack(t.dtype);
    if (!dtype)
      unsupported_element("DLPack type code " + std::to_string(t.dtype.code) + " with " + std::to_string(t.dtype.bits) +
                          " bits");
    a.dtype_ = *dtype;
    a.data_ = static_cast<const std::byte*>(t.data) + t.byte_offset;
    const int64_t item = int64_t(dtype_size(*dtype));
    int64_t contiguous = item;
    a.shape_.assign(t.shape, t.shape + t.ndim);
    a.byte_strides_.resize(size_t(t.ndim));
    for (int d = t.ndim - 1; d >= 0; --d) {
      a.byte_strides_[size_t(d)] = t.strides ? t.strides[d] * item : contiguous;
      contiguous *= t.shape[d];
    }
    return a;
  }
  if (py::hasattr(value, "__array_interface__") || py::hasattr(value, "__array__")) {
    py::object array = py::module_::import("numpy").attr("asarray")(value);
    if (!PyObject_CheckBuffer(array.ptr())) return std::nullopt;
    auto inner = view(array);
    if (inner) inner->keep_ = std::move(array);
    return inner;
  }
  return std::nullopt;
}

HostArray::HostArray(HostArray&& o) noexcept
    : dtype_(o.dtype_),
      shape_(std::move(o.shape_)),
      byte_strides_(std::move(o.byte_strides_)),
      data_(o.data_),
      from_torch_(o.from_torch_),
      buffer_(o.buffer_),
      dlpack_(o.dlpack_),
      keep_(std::move(o.keep_)) {
  o.buffer_.reset();
  o.dlpack_ = nullptr;
}

HostArray::~HostArray() { release(); }

void HostArray::release() noexcept {
  if (buffer_) PyBuffer_Release(&*buffer_);
  buffer_.reset();
  if (dlpack_) {
    auto* m = static_cast<dlpack::DLManagedTensor*>(dlpack_);
    if (m->deleter) m->deleter(m);
    dlpack_ = nullptr;
  }
}

int64_t HostArray::numel() const {
  int64_t n = 1;
  for (int64_t d : shape_) n *= d;
  return n;
}

void HostArray::copy_to(void* dst) const {
  if (numel() == 0) return;
  // The innermost dimensions laid out contiguously form one run per copy.
  size_t run = dtype_size(dtype_);
  size_t ndim = shape_.size();
  while (ndim > 0 && (shape_[ndim - 1] == 1 || byte_strides_[ndim - 1] == int64_t(run))) {
    run *= size_t(shape_[ndim - 1]);
    --ndim;
  }
  copy_strided(static_cast<std::byte*>(dst), data_, shape_.data(), byte_strides_.data(), ndim, run);
}

}  // namespace ferry::python
