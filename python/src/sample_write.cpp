#include "python/src/sample_layout.h"

#include <cstring>
#include <limits>
#include <optional>
#include <stdexcept>

#include "base/error.h"
#include "python/src/host_array.h"
#include "python/src/py_worker.h"
#include "trace/trace.h"

// SampleLayout's write path: one sample into its place in a batch slot.

namespace py = pybind11;

namespace ferry::python {

namespace {

// Copies at least this large run without the GIL, so other threads of the
// worker (threads_per_worker) can run Python meanwhile.
constexpr size_t kReleaseGilBytes = 256 * 1024;

template <class T>
void put_integer(long long v, void* dst, DType dtype) {
  if (v < (long long)std::numeric_limits<T>::min() || v > (long long)std::numeric_limits<T>::max())
    throw std::runtime_error("the value " + std::to_string(v) + " does not fit " + std::string(dtype_name(dtype)));
  const T t = static_cast<T>(v);
  std::memcpy(dst, &t, sizeof t);
}

void write_scalar(py::handle value, DType dtype, void* dst) {
  if (PyFloat_Check(value.ptr())) {
    const double v = PyFloat_AsDouble(value.ptr());
    if (dtype == DType::kFloat64) {
      std::memcpy(dst, &v, sizeof v);
    } else if (dtype == DType::kFloat32) {
      const float f = static_cast<float>(v);
      std::memcpy(dst, &f, sizeof f);
    } else {
      throw std::runtime_error("a Python float cannot go into a " + std::string(dtype_name(dtype)) +
                               " field; return a numpy array of that dtype");
    }
    return;
  }
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(value.ptr(), &overflow);
  if (overflow) throw std::runtime_error("the int " + py::str(value).cast<std::string>() + " does not fit int64");
  switch (dtype) {
    case DType::kBool:
      *static_cast<uint8_t*>(dst) = v != 0;
      return;
    case DType::kInt8:
      return put_integer<int8_t>(v, dst, dtype);
    case DType::kUInt8:
      return put_integer<uint8_t>(v, dst, dtype);
    case DType::kInt16:
      return put_integer<int16_t>(v, dst, dtype);
    case DType::kUInt16:
      return put_integer<uint16_t>(v, dst, dtype);
    case DType::kInt32:
      return put_integer<int32_t>(v, dst, dtype);
    case DType::kInt64:
      return put_integer<int64_t>(v, dst, dtype);
    case DType::kFloat32: {
      const float f = static_cast<float>(v);
      std::memcpy(dst, &f, sizeof f);
      return;
    }
    case DType::kFloat64: {
      const double d = static_cast<double>(v);
      std::memcpy(dst, &d, sizeof d);
      return;
    }
    case DType::kFloat16:
    case DType::kBFloat16:
      break;
  }
  throw std::runtime_error("a Python int cannot go into a " + std::string(dtype_name(dtype)) +
                           " field; return a numpy array of that dtype");
}

// Owns a Py_buffer for the length of a scope.
struct BufferScope {
  Py_buffer view{};
  bool held = false;
  ~BufferScope() {
    if (held) PyBuffer_Release(&view);
  }
};
}  // namespace

void SampleLayout::write(py::handle sample, SampleContext& ctx, SampleWriter& out) const {
  write_node(0, sample, ctx, out);
}

void SampleLayout::write_node(size_t n, py::handle value, SampleContext& ctx, SampleWriter& out) const {
  const Node& node = nodes_[n];
  PyObject* v = value.ptr();
  auto mismatch = [&](const std::string& what, const std::string& expected) {
    throw std::runtime_error(where(node) + " is " + what + ", but the schema has " + expected + " there (" + source_ +
                             ")");
  };
  switch (node.kind) {
    case Node::Kind::kLeaf:
      return write_leaf(leaves_[node.leaf], node.leaf, value, ctx, out);
    case Node::Kind::kDict: {
      std::string keys;
      for (const auto& k : node.keys) keys += (keys.empty() ? "'" : ", '") + k.cast<std::string>() + "'";
      const std::string expected = "a dict with keys " + keys;
      if (!PyDict_Check(v)) mismatch("a " + python_type_name(value), expected);
      if (size_t(PyDict_Size(v)) != node.keys.size())
        mismatch(
            "a dict with keys " + py::repr(py::list(py::reinterpret_borrow<py::object>(value))).cast<std::string>(),
            expected);
      for (size_t i = 0; i < node.keys.size(); ++i) {
        PyObject* item = PyDict_GetItemWithError(v, node.keys[i].ptr());
        if (!item) {
          if (PyErr_Occurred()) throw py::error_already_set();
          mismatch("a dict without key '" + node.keys[i].cast<std::string>() + "'", expected);
        }
        write_node(node.children[i], item, ctx, out);
      }
      return;
    }
    case Node::Kind::kList:
    case Node::Kind::kTuple:
    case Node::Kind::kNamedTuple: {
      const bool list = node.kind == Node::Kind::kList;
      const std::string expected =
          std::string(list ? "a list" : "a tuple") + " of " + std::to_string(node.children.size()) + " items";
      if (list ? !PyList_Check(v) : !PyTuple_Check(v)) mismatch("a " + python_type_name(value), expected);
      const auto seq = py::reinterpret_borrow<py::sequence>(value);
      if (seq.size() != node.children.size())
        mismatch("a " + python_type_name(value) + " of " + std::to_string(seq.size()) + " items", expected);
      for (size_t i = 0; i < node.children.size(); ++i) write_node(node.children[i], seq[i], ctx, out);
      return;
    }
  }
}

void SampleLayout::write_leaf(const Leaf& leaf, size_t field, py::handle value, SampleContext& ctx,
                              SampleWriter& out) const {
  trace::ScopedStage stage(pipelines_[field] ? trace::Stage::kDecode : trace::Stage::kWrite);
  const FieldDecl& d = leaf.decl;
  PyObject* v = value.ptr();
  auto fail = [&](const std::string& what) -> std::runtime_error {
    return std::runtime_error("field '" + leaf.name + "' " + what);
  };
  auto is_not = [&](const std::string& expected) {
    return fail("is a " + python_type_name(value) + ", but the schema has " + expected + " (" + source_ + ")");
  };
  if (pipelines_[field]) {
    BufferScope b;
    if (PyObject_GetBuffer(v, &b.view, PyBUF_SIMPLE) != 0) {
      PyErr_Clear();
      throw is_not("encoded image bytes (bytes, or a contiguous uint8 array) for its transform");
    }
    b.held = true;
    transforms::DecodeReport report;
    try {
      py::gil_scoped_release nogil;
      pipelines_[field]->run(static_cast<const uint8_t*>(b.view.buf), size_t(b.view.len), ctx.rng, out.fixed(field),
                             &report);
    } catch (const BadSample& e) {
      throw BadSample("field '" + leaf.name + "': " + e.what());
    }
    ctx.warnings += report.warnings;
    return;
  }
  auto put_ragged = [&](const void* data, int64_t count) {
    std::memcpy(out.ragged(field, count), data, size_t(count));
  };
  switch (d.kind) {
    case LeafKind::kBytes:
      if (PyBytes_Check(v)) return put_ragged(PyBytes_AS_STRING(v), PyBytes_GET_SIZE(v));
      if (PyByteArray_Check(v)) return put_ragged(PyByteArray_AS_STRING(v), PyByteArray_GET_SIZE(v));
      throw is_not("bytes");
    case LeafKind::kStr: {
      if (!PyUnicode_Check(v)) throw is_not("str");
      Py_ssize_t n = 0;
      const char* utf8 = PyUnicode_AsUTF8AndSize(v, &n);
      if (!utf8) throw py::error_already_set();
      return put_ragged(utf8, n);
    }
    case LeafKind::kObject: {
      const py::bytes pickled = pickle_dumps_(value, -1);
      char* data = nullptr;
      Py_ssize_t n = 0;
      PyBytes_AsStringAndSize(pickled.ptr(), &data, &n);
      return put_ragged(data, n);
    }
    case LeafKind::kArray:
      break;
  }
  if (!d.ragged && d.shape.empty() && (PyBool_Check(v) || PyLong_Check(v) || PyFloat_Check(v))) {
    try {
      return write_scalar(value, d.dtype, out.fixed(field));
    } catch (const std::runtime_error& e) {
      throw std::runtime_error("field '" + leaf.name + "': " + e.what());
    }
  }
  std::optional<HostArray> a = [&] {
    try {
      return HostArray::view(value);
    } catch (const std::runtime_error& e) {
      throw fail("is a " + python_type_name(value) + ": " + e.what());
    } catch (py::error_already_set& e) {
      throw fail("is a " + python_type_name(value) + " that gives no array: " + python_error_line(e));
    }
  }();
  if (!a) throw is_not("an array of " + d.describe());
  if (a->dtype() != d.dtype)
    throw fail("has dtype " + std::string(dtype_name(a->dtype())) + ", but the schema has " +
               std::string(dtype_name(d.dtype)) + " (" + source_ + "); convert it in __getitem__ (.astype)");
  void* dst = nullptr;
  if (d.ragged) {
    if (a->shape().size() != 1)
      throw fail("has shape " + shape_text(a->shape()) + ", but a ragged field takes 1-D arrays (" + source_ + ")");
    dst = out.ragged(field, a->shape()[0]);
  } else {
    if (a->shape() != d.shape)
      throw fail("has shape " + shape_text(a->shape()) + ", but the schema has " + shape_text(d.shape) + " (" +
                 source_ +
                 "). Every sample needs the same shape, or declare a 1-D field ragged: schema= with "
                 "ferry.Field(dtype, ragged=True) (see ferry.infer_schema)");
    dst = out.fixed(field);
  }
  if (a->nbytes() >= kReleaseGilBytes) {
    py::gil_scoped_release nogil;
    a->copy_to(dst);
  } else {
    a->copy_to(dst);
  }
}

}  // namespace ferry::python
