#include "python/src/tensor.h"

#include <pybind11/stl.h>

#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "python/src/dlpack.h"
#include "python/src/host_array.h"

namespace py = pybind11;

namespace ferry::python {

namespace {

dlpack::DLDataType dl_dtype(DType t) {
  switch (t) {
    case DType::kUInt8:
      return {dlpack::kDLUInt, 8, 1};
    case DType::kInt32:
      return {dlpack::kDLInt, 32, 1};
    case DType::kInt64:
      return {dlpack::kDLInt, 64, 1};
    case DType::kFloat16:
      return {dlpack::kDLFloat, 16, 1};
    case DType::kBFloat16:
      return {dlpack::kDLBfloat, 16, 1};
    case DType::kFloat32:
      return {dlpack::kDLFloat, 32, 1};
    case DType::kFloat64:
      return {dlpack::kDLFloat, 64, 1};
    case DType::kBool:
      return {dlpack::kDLBool, 8, 1};
    case DType::kInt8:
      return {dlpack::kDLInt, 8, 1};
    case DType::kInt16:
      return {dlpack::kDLInt, 16, 1};
    case DType::kUInt16:
      return {dlpack::kDLUInt, 16, 1};
  }
  throw std::logic_error("ferry: unknown dtype");
}

// What an exported DLManagedTensor(Versioned) owns: the batch keep-alive and
// the shape/strides arrays its DLTensor points into. Freed by the deleter,
// which may run on any thread without the GIL: it touches no Python object.
struct ExportContext {
  std::shared_ptr<void> owner;
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;
};

template <class Managed>
Managed* make_managed(const std::shared_ptr<void>& owner, const TensorView& v, std::pair<int, int> device) {
  auto ctx = std::make_unique<ExportContext>(ExportContext{owner, v.shape, v.strides});
  auto m = std::make_unique<Managed>();
  dlpack::DLTensor& t = m->dl_tensor;
  t.data = v.data;
  t.device = {device.first, device.second};
  t.ndim = static_cast<int32_t>(ctx->shape.size());
  t.dtype = dl_dtype(v.dtype);
  t.shape = ctx->shape.empty() ? nullptr : ctx->shape.data();
  t.strides = ctx->strides.empty() ? nullptr : ctx->strides.data();
  t.byte_offset = 0;
  m->manager_ctx = ctx.release();
  m->deleter = [](Managed* self) {
    delete static_cast<ExportContext*>(self->manager_ctx);
    delete self;
  };
  return m.release();
}

// The capsule destructors: free the payload only if no consumer took it
// (a consumer renames the capsule to "used_..." and owns the deleter call).
template <class Managed>
void capsule_destructor(PyObject* capsule, const char* name, const char* used_name) {
  if (PyCapsule_IsValid(capsule, used_name)) return;
  PyObject *type, *value, *traceback;
  PyErr_Fetch(&type, &value, &traceback);
  auto* m = static_cast<Managed*>(PyCapsule_GetPointer(capsule, name));
  if (m == nullptr) {
    PyErr_WriteUnraisable(capsule);
  } else if (m->deleter) {
    m->deleter(m);
  }
  PyErr_Restore(type, value, traceback);
}

void legacy_capsule_destructor(PyObject* capsule) {
  capsule_destructor<dlpack::DLManagedTensor>(capsule, "dltensor", "used_dltensor");
}

void versioned_capsule_destructor(PyObject* capsule) {
  capsule_destructor<dlpack::DLManagedTensorVersioned>(capsule, "dltensor_versioned", "used_dltensor_versioned");
}

py::object numpy_view(const py::object& self) {
  py::object from_dlpack = py::module_::import("numpy").attr("from_dlpack");
  const auto& t = self.cast<const Tensor&>();
  if (t.view().dtype != DType::kBool) return from_dlpack(self);
  // numpy before 1.25 imports no DLPack bools: take the bytes as uint8.
  TensorView bytes = t.view();
  bytes.dtype = DType::kUInt8;
  return from_dlpack(py::cast(Tensor(t.owner(), std::move(bytes), t.placement()))).attr("view")("bool");
}

// The cudaStream_t a DLPack consumer names (None: the legacy default stream),
// or nullopt for -1 (the consumer synchronizes itself).
std::optional<void*> consumer_stream(const py::object& stream) {
  if (stream.is_none()) return nullptr;
  if (!py::isinstance<py::int_>(stream))
    throw py::type_error("ferry: __dlpack__(stream=...) takes an integer CUDA stream handle or None");
  const auto handle = stream.cast<long long>();
  if (handle == -1) return std::nullopt;
  if (handle == 0)
    throw py::value_error(
        "ferry: __dlpack__(stream=0) is ambiguous for CUDA (DLPack): pass 1 for the legacy default stream, 2 for "
        "the per-thread default stream, or the stream's handle");
  if (handle < 0) throw py::value_error("ferry: __dlpack__: invalid stream handle " + std::to_string(handle));
  // 1 and 2 are cudaStreamLegacy and cudaStreamPerThread as the runtime spells them.
  return reinterpret_cast<void*>(static_cast<uintptr_t>(handle));
}

}  // namespace

std::string device_name(int device) { return device < 0 ? "cpu" : "cuda:" + std::to_string(device); }

Tensor::Tensor(std::shared_ptr<void> owner, TensorView view, Placement where)
    : owner_(std::move(owner)), view_(std::move(view)), where_(where) {
  if (view_.strides.size() != view_.shape.size()) {
    // Fill row-major strides (in elements) when the view came without them.
    view_.strides.assign(view_.shape.size(), 1);
    for (size_t i = view_.shape.size(); i > 1; --i) view_.strides[i - 2] = view_.strides[i - 1] * view_.shape[i - 1];
  }
}

std::pair<int, int> Tensor::dlpack_device() const {
  if (where_.device < 0) return {int(dlpack::kDLCPU), 0};
  return {int(dlpack::kDLCUDA), where_.device};
}

void Tensor::wait_for_copy(const py::object& stream) const {
  const std::optional<void*> s = consumer_stream(stream);
  if (!s || where_.memory == nullptr) return;
  // The consumer's stream waits on the GPU; the batch remembers it, so its
  // buffer is recycled only after that stream's work on it.
  where_.memory->wait_on(*s);
}

py::capsule Tensor::dlpack(const py::object& stream, const py::object& max_version, const py::object& dl_device,
                           const py::object& copy) const {
  const auto own = dlpack_device();
  if (!dl_device.is_none()) {
    auto dev = dl_device.cast<std::pair<int, int>>();
    if (dev != own)
      throw py::buffer_error("ferry: this field lives on " + device_name(where_.device) + " (DLPack device " +
                             std::to_string(own.first) + ", " + std::to_string(own.second) +
                             "); cannot export it to device (" + std::to_string(dev.first) + ", " +
                             std::to_string(dev.second) + ") without a copy");
  }
  // For host data the Array API asks consumers to pass stream=None; there is
  // nothing to synchronize, so any value is accepted and ignored.
  if (where_.device >= 0) wait_for_copy(stream);
  if (!copy.is_none() && copy.cast<bool>())
    throw py::buffer_error(
        "ferry: __dlpack__(copy=True) is not supported: fields are exported without copies; "
        "copy on the consumer side (e.g. torch.from_dlpack(x).clone())");
  bool versioned = false;
  if (!max_version.is_none()) {
    auto mv = max_version.cast<std::pair<int, int>>();
    versioned = mv.first >= int(dlpack::kMajorVersion);
  }
  PyObject* capsule = nullptr;
  if (versioned) {
    auto* m = make_managed<dlpack::DLManagedTensorVersioned>(owner_, view_, own);
    m->version = {dlpack::kMajorVersion, dlpack::kMinorVersion};
    m->flags = 0;
    capsule = PyCapsule_New(m, "dltensor_versioned", versioned_capsule_destructor);
    if (!capsule) m->deleter(m);
  } else {
    auto* m = make_managed<dlpack::DLManagedTensor>(owner_, view_, own);
    capsule = PyCapsule_New(m, "dltensor", legacy_capsule_destructor);
    if (!capsule) m->deleter(m);
  }
  if (!capsule) throw py::error_already_set();
  return py::reinterpret_steal<py::capsule>(capsule);
}

RaggedTensor::RaggedTensor(std::shared_ptr<void> owner, const BatchField& field, Placement where)
    : values_(owner, field.values, where), offsets_(owner, field.offsets, where) {}

Tensor RaggedTensor::item(int64_t i) const {
  if (values_.placement().device >= 0)
    throw py::type_error("ferry: r[i] reads the offsets, which live on " + device_name(values_.placement().device) +
                         "; take r.values and r.offsets with torch.from_dlpack instead");
  const int64_t n = size();
  if (i < 0) i += n;
  if (i < 0 || i >= n)
    throw py::index_error("ferry: sample " + std::to_string(i) + " out of range for a batch of " + std::to_string(n));
  const auto* off = offsets_.view().data_as<const int64_t>();
  TensorView v;
  v.dtype = values_.view().dtype;
  v.data = static_cast<std::byte*>(values_.view().data) + size_t(off[i]) * dtype_size(v.dtype);
  v.shape = {off[i + 1] - off[i]};
  v.strides = {1};
  return Tensor(values_.owner(), std::move(v), values_.placement());
}

py::dict batch_to_dict(const Batch& batch) {
  py::dict out;
  const Placement where = Placement::of(batch);
  for (const BatchField& f : batch.fields()) {
    if (f.ragged)
      out[py::str(f.name)] = py::cast(RaggedTensor(batch.owner(), f, where));
    else
      out[py::str(f.name)] = py::cast(Tensor(batch.owner(), f.values, where));
  }
  return out;
}

void bind_tensors(py::module_& m) {
  py::class_<Tensor>(m, "Tensor",
                     "One field of a batch: a strided array in the batch's shared memory.\n\n"
                     "Pass it to torch.from_dlpack / numpy.from_dlpack / jax.dlpack.from_dlpack for a\n"
                     "zero-copy view; the memory stays valid while any view or capsule of it lives.")
      .def("__dlpack__", &Tensor::dlpack, py::arg("stream") = py::none(), py::kw_only(),
           py::arg("max_version") = py::none(), py::arg("dl_device") = py::none(), py::arg("copy") = py::none(),
           "DLPack capsule of this field (no copy).")
      .def("__dlpack_device__",
           [](const Tensor& t) { return py::make_tuple(t.dlpack_device().first, t.dlpack_device().second); })
      .def_property_readonly(
          "device", [](const Tensor& t) { return device_name(t.placement().device); },
          "'cpu', or 'cuda:N' for a field of a device batch (DataLoader(device=...)).")
      .def_property_readonly(
          "page_locked", [](const Tensor& t) { return t.placement().page_locked; },
          "True for host memory page-locked for the GPU (pin_memory; False for a batch in a one-off segment).")
      .def(
          "__array__",
          [](py::object self, py::object dtype, py::object copy) {
            py::object a = numpy_view(self);
            if (!copy.is_none() && copy.cast<bool>()) a = a.attr("copy")();
            if (!dtype.is_none()) a = a.attr("astype")(dtype, py::arg("copy") = false);
            return a;
          },
          py::arg("dtype") = py::none(), py::kw_only(), py::arg("copy") = py::none())
      .def(
          "numpy", [](py::object self) { return numpy_view(self); }, "numpy.from_dlpack(self): a zero-copy numpy view.")
      .def_property_readonly("shape", [](const Tensor& t) { return py::tuple(py::cast(t.view().shape)); })
      .def_property_readonly(
          "strides", [](const Tensor& t) { return py::tuple(py::cast(t.view().strides)); },
          "Strides in elements (as torch.Tensor.stride()), not bytes.")
      .def_property_readonly("dtype", [](const Tensor& t) { return std::string(dtype_name(t.view().dtype)); })
      .def_property_readonly("ndim", [](const Tensor& t) { return t.view().shape.size(); })
      .def_property_readonly("nbytes", [](const Tensor& t) { return t.view().nbytes(); })
      .def_property_readonly(
          "data_ptr", [](const Tensor& t) { return reinterpret_cast<uintptr_t>(t.view().data); },
          "Address of the first element (for checks and debugging).")
      .def("__len__",
           [](const Tensor& t) {
             if (t.view().shape.empty()) throw py::type_error("ferry: len() of a 0-d Tensor");
             return t.view().shape[0];
           })
      .def("__repr__", [](const Tensor& t) {
        return "ferry.Tensor(shape=" + shape_text(t.view().shape) +
               ", dtype=" + std::string(dtype_name(t.view().dtype)) + ")";
      });

  py::class_<RaggedTensor>(m, "RaggedTensor",
                           "A ragged field: `values` holds all samples back to back, `offsets` (int64,\n"
                           "batch + 1 entries) where each starts; r[i] is sample i as a Tensor.")
      .def_property_readonly("values", &RaggedTensor::values)
      .def_property_readonly("offsets", &RaggedTensor::offsets)
      .def_property_readonly("dtype",
                             [](const RaggedTensor& r) { return std::string(dtype_name(r.values().view().dtype)); })
      .def("__len__", &RaggedTensor::size)
      .def("__getitem__", &RaggedTensor::item)
      .def("__repr__", [](const RaggedTensor& r) {
        return "ferry.RaggedTensor(samples=" + std::to_string(r.size()) +
               ", values=" + std::to_string(r.values().view().shape[0]) +
               ", dtype=" + std::string(dtype_name(r.values().view().dtype)) + ")";
      });
}

}  // namespace ferry::python
