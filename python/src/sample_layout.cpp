#include "python/src/sample_layout.h"

#include <pybind11/stl.h>

#include <cstring>
#include <limits>
#include <set>
#include <stdexcept>

#include "base/error.h"
#include "python/src/host_array.h"
#include "python/src/py_worker.h"
#include "python/src/tensor.h"
#include "trace/trace.h"

namespace py = pybind11;

namespace ferry::python {

namespace {

// Ragged slots are sized from the first sample: twice its length, at least
// this many bytes. Larger samples still work (the batch spills, slower).
constexpr int64_t kMinRaggedBytes = 64;
// A declared ragged field without a capacity reserves this much per sample.
constexpr int64_t kDefaultRaggedBytes = 4096;
// Deeper samples are refused (a self-referencing structure would never end).
constexpr int kMaxDepth = 32;

const char* kind_name(LeafKind k) {
  switch (k) {
    case LeafKind::kArray:
      return "array";
    case LeafKind::kBytes:
      return "bytes";
    case LeafKind::kStr:
      return "str";
    case LeafKind::kObject:
      return "object";
  }
  return "?";
}

int64_t ragged_capacity(int64_t first_bytes) { return std::max(2 * first_bytes, kMinRaggedBytes); }

bool is_namedtuple(py::handle value) { return PyTuple_Check(value.ptr()) && py::hasattr(value, "_fields"); }

// A Python int, float or bool written as one element of `dtype`.

// The leaf of a sample value: what it is and, for ragged kinds, how much
// room the first sample suggests.
struct InferredLeaf {
  FieldDecl decl;
  LeafOrigin origin = LeafOrigin::kNumpy;
};

InferredLeaf infer_leaf(py::handle value, const py::object& dumps, const std::string& name) {
  InferredLeaf out;
  FieldDecl& d = out.decl;
  PyObject* v = value.ptr();
  if (PyBool_Check(v) || PyLong_Check(v) || PyFloat_Check(v)) {
    d.dtype = PyBool_Check(v) ? DType::kBool : PyLong_Check(v) ? DType::kInt64 : DType::kFloat64;
    out.origin = LeafOrigin::kPythonScalar;
  } else if (PyUnicode_Check(v)) {
    d.kind = LeafKind::kStr;
    Py_ssize_t n = 0;
    if (!PyUnicode_AsUTF8AndSize(v, &n)) throw py::error_already_set();
    d.capacity = ragged_capacity(n);
  } else if (PyBytes_Check(v) || PyByteArray_Check(v)) {
    d.kind = LeafKind::kBytes;
    d.capacity = ragged_capacity(PyBytes_Check(v) ? PyBytes_GET_SIZE(v) : PyByteArray_GET_SIZE(v));
  } else if (HostArray::looks_like_array(value)) {
    std::optional<HostArray> a = [&] {
      try {
        return HostArray::view(value);
      } catch (const std::runtime_error& e) {
        throw InvalidOption("ferry: field '" + name + "' of the first sample is a " + python_type_name(value) + ": " +
                            e.what());
      } catch (py::error_already_set& e) {
        throw InvalidOption("ferry: field '" + name + "' of the first sample is a " + python_type_name(value) +
                            " that gives no array: " + python_error_line(e));
      }
    }();
    if (!a) throw InvalidOption("ferry: field '" + name + "' (" + python_type_name(value) + ") gives no array");
    d.dtype = a->dtype();
    d.shape = a->shape();
    out.origin = a->from_torch() ? LeafOrigin::kTorch : LeafOrigin::kNumpy;
  } else {
    d.kind = LeafKind::kObject;
    d.capacity = ragged_capacity(py::len(dumps(value)));
  }
  d.ragged = d.ragged || d.kind != LeafKind::kArray;
  return out;
}

}  // namespace

std::string FieldDecl::describe() const {
  if (kind != LeafKind::kArray) return kind_name(kind);
  std::string s(dtype_name(dtype));
  return ragged ? s + "[ragged]" : s + shape_text(shape);
}

// Walks a sample (or a structure of ferry.Field) and adds its nodes and leaves.
class SampleLayout::Builder {
 public:
  using LeafOf = std::function<InferredLeaf(py::handle value, const std::string& name)>;
  Builder(SampleLayout& layout, LeafOf leaf_of) : l_(layout), leaf_of_(std::move(leaf_of)) {}

  size_t add(py::handle value, const std::string& path, int depth) {
    if (depth > kMaxDepth)
      throw InvalidOption("ferry: the sample nests deeper than " + std::to_string(kMaxDepth) + " levels at '" + path +
                          "'; does it contain itself?");
    const size_t self = l_.nodes_.size();
    l_.nodes_.emplace_back();
    Node node;
    node.path = path;
    PyObject* v = value.ptr();
    if (PyDict_Check(v)) {
      node.kind = Node::Kind::kDict;
      for (auto [key, item] : py::reinterpret_borrow<py::dict>(value)) {
        if (!PyUnicode_Check(key.ptr()))
          throw InvalidOption("ferry: " + l_.where(node) + " is a dict with a key of type " + python_type_name(key) +
                              "; keys must be str");
        node.keys.push_back(py::reinterpret_borrow<py::object>(key));
        node.children.push_back(add(item, join(path, key.cast<std::string>()), depth + 1));
      }
    } else if (PyTuple_Check(v) || PyList_Check(v)) {
      node.kind = PyList_Check(v)        ? Node::Kind::kList
                  : is_namedtuple(value) ? Node::Kind::kNamedTuple
                                         : Node::Kind::kTuple;
      if (node.kind == Node::Kind::kNamedTuple)
        node.type = py::reinterpret_borrow<py::object>(py::type::handle_of(value));
      const auto seq = py::reinterpret_borrow<py::sequence>(value);
      // A namedtuple's fields go by their names, other sequences by position.
      const py::object names = node.type ? node.type.attr("_fields") : py::object();
      for (size_t i = 0; i < seq.size(); ++i) {
        const std::string key = names ? py::str(names[py::int_(i)]).cast<std::string>() : std::to_string(i);
        node.children.push_back(add(seq[i], join(path, key), depth + 1));
      }
    } else {
      const std::string name = path.empty() ? "sample" : path;
      InferredLeaf leaf = leaf_of_(value, name);
      node.leaf = l_.leaves_.size();
      l_.leaves_.push_back(Leaf{name, leaf.decl, leaf.origin});
    }
    l_.nodes_[self] = std::move(node);
    return self;
  }

 private:
  static std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }
  SampleLayout& l_;
  LeafOf leaf_of_;
};

std::shared_ptr<SampleLayout> SampleLayout::infer(py::handle sample, int64_t index) {
  std::shared_ptr<SampleLayout> l(new SampleLayout());
  l->source_ = "from sample " + std::to_string(index);
  l->pickle_dumps_ = py::module_::import("pickle").attr("dumps");
  l->pickle_loads_ = py::module_::import("pickle").attr("loads");
  const py::object dumps = l->pickle_dumps_;
  Builder(*l, [&](py::handle v, const std::string& name) { return infer_leaf(v, dumps, name); }).add(sample, "", 0);
  l->finish();
  return l;
}

std::shared_ptr<SampleLayout> SampleLayout::declared(py::handle fields, const std::string& source) {
  std::shared_ptr<SampleLayout> l(new SampleLayout());
  l->source_ = source;
  l->pickle_dumps_ = py::module_::import("pickle").attr("dumps");
  l->pickle_loads_ = py::module_::import("pickle").attr("loads");
  Builder(*l, [](py::handle v, const std::string& name) {
    if (!py::isinstance<FieldDecl>(v))
      throw InvalidOption("ferry: schema= needs a ferry.Field for every leaf, but '" + name + "' is a " +
                          python_type_name(v) + " (ferry.infer_schema(dataset) shows the structure to fill in)");
    return InferredLeaf{v.cast<FieldDecl>(), LeafOrigin::kNumpy};
  }).add(fields, "", 0);
  l->finish();
  return l;
}

std::shared_ptr<SampleLayout> SampleLayout::of_schema(const Schema& schema) {
  std::shared_ptr<SampleLayout> l(new SampleLayout());
  l->source_ = "of the dataset";
  Node root;
  root.kind = Node::Kind::kDict;
  l->nodes_.emplace_back();
  for (const FieldSpec& f : schema) {
    FieldDecl d;
    d.dtype = f.dtype;
    d.shape = f.shape;
    d.ragged = f.ragged;
    d.capacity = f.ragged_capacity;
    Node leaf;
    leaf.path = f.name;
    leaf.leaf = l->leaves_.size();
    l->leaves_.push_back(Leaf{f.name, d, LeafOrigin::kNumpy});
    root.keys.push_back(py::str(f.name));
    root.children.push_back(l->nodes_.size());
    l->nodes_.push_back(std::move(leaf));
  }
  l->nodes_[0] = std::move(root);
  l->finish();
  return l;
}

SampleLayout::~SampleLayout() = default;

std::string SampleLayout::where(const Node& node) const {
  return node.path.empty() ? std::string("the sample") : "'" + node.path + "'";
}

void SampleLayout::finish() {
  schema_.clear();
  pipelines_.resize(leaves_.size());
  std::set<std::string> names;
  for (size_t i = 0; i < leaves_.size(); ++i) {
    const Leaf& leaf = leaves_[i];
    if (!names.insert(leaf.name).second)
      throw InvalidOption("ferry: two fields of the sample are both named '" + leaf.name +
                          "' (a dict key with a '.' in it?); rename one");
    FieldSpec f;
    f.name = leaf.name;
    const FieldDecl& d = leaf.decl;
    if (pipelines_[i]) {
      f.dtype = pipelines_[i]->output_dtype();
      f.shape = pipelines_[i]->output_shape();
    } else if (d.kind == LeafKind::kArray && !d.ragged) {
      f.dtype = d.dtype;
      f.shape = d.shape;
    } else {
      f.dtype = d.kind == LeafKind::kArray ? d.dtype : DType::kUInt8;
      f.ragged = true;
      const int64_t elem = int64_t(dtype_size(f.dtype));
      f.ragged_capacity = d.capacity > 0 ? d.capacity : kDefaultRaggedBytes / elem;
    }
    schema_.push_back(std::move(f));
  }
}

void SampleLayout::apply(const Transforms& transforms) {
  for (const auto& [name, spec] : transforms) {
    auto it = std::find_if(leaves_.begin(), leaves_.end(), [&](const Leaf& l) { return l.name == name; });
    if (it == leaves_.end()) {
      std::string known;
      for (const Leaf& l : leaves_) known += (known.empty() ? "" : ", ") + l.name;
      throw InvalidOption("ferry: transforms names field '" + name + "', but the sample's fields are " + known);
    }
    const FieldDecl& d = it->decl;
    const bool encoded = d.kind == LeafKind::kBytes ||
                         (d.kind == LeafKind::kArray && d.dtype == DType::kUInt8 && (d.ragged || d.shape.size() == 1));
    if (!encoded)
      throw InvalidOption("ferry: transforms decodes field '" + name + "' as an encoded image, but it is " +
                          d.describe() + " " + source_ + "; return the file's bytes (bytes or a uint8 array) there");
    pipelines_.resize(leaves_.size());
    pipelines_[size_t(it - leaves_.begin())] = std::make_unique<transforms::ImagePipeline>(spec);
    transforms_[name] = spec;
  }
  finish();
}

template <class LeafFn>
py::object SampleLayout::build(size_t n, const LeafFn& leaf) const {
  const Node& node = nodes_[n];
  switch (node.kind) {
    case Node::Kind::kLeaf:
      return leaf(leaves_[node.leaf], node.leaf);
    case Node::Kind::kDict: {
      py::dict d;
      for (size_t i = 0; i < node.keys.size(); ++i) d[node.keys[i]] = build(node.children[i], leaf);
      return d;
    }
    case Node::Kind::kList: {
      py::list l;
      for (size_t c : node.children) l.append(build(c, leaf));
      return l;
    }
    case Node::Kind::kTuple:
    case Node::Kind::kNamedTuple: {
      py::tuple t(node.children.size());
      for (size_t i = 0; i < node.children.size(); ++i) t[i] = build(node.children[i], leaf);
      if (node.kind == Node::Kind::kNamedTuple) return node.type(*t);
      return t;
    }
  }
  return py::none();
}

py::object SampleLayout::fields() const {
  return build(0, [](const Leaf& leaf, size_t) { return py::cast(leaf.decl); });
}

std::vector<LeafOrigin> SampleLayout::origins() const {
  std::vector<LeafOrigin> out;
  for (const Leaf& leaf : leaves_) out.push_back(leaf.origin);
  return out;
}

void SampleLayout::set_origins(const std::vector<LeafOrigin>& origins) {
  if (origins.size() != leaves_.size()) throw std::logic_error("ferry: origins do not match the layout's leaves");
  for (size_t i = 0; i < leaves_.size(); ++i) leaves_[i].origin = origins[i];
}

py::list SampleLayout::ragged_items(const Leaf& leaf, py::handle field, int64_t first, int64_t count) const {
  const auto& r = field.cast<const RaggedTensor&>();
  const auto* offsets = r.offsets().view().data_as<const int64_t>();
  const auto* values = static_cast<const char*>(r.values().view().data);
  py::list items;
  for (int64_t i = first; i < first + count; ++i) {
    const char* at = values + offsets[i];
    const Py_ssize_t n = Py_ssize_t(offsets[i + 1] - offsets[i]);
    switch (leaf.decl.kind) {
      case LeafKind::kStr:
        items.append(py::reinterpret_steal<py::object>(PyUnicode_DecodeUTF8(at, n, "strict")));
        break;
      case LeafKind::kObject:
        items.append(pickle_loads_(py::bytes(at, size_t(n))));
        break;
      default:
        items.append(py::bytes(at, size_t(n)));
        break;
    }
  }
  return items;
}

namespace {

// Sample `i` of a fixed field's Tensor: the same memory without the batch dimension.
Tensor sample_of(const Tensor& t, int64_t i) {
  TensorView v = t.view();
  v.data = static_cast<std::byte*>(v.data) + size_t(i * v.strides[0]) * dtype_size(v.dtype);
  v.shape.erase(v.shape.begin());
  v.strides.erase(v.strides.begin());
  return Tensor(t.owner(), std::move(v));
}

}  // namespace

py::object SampleLayout::batch(const py::dict& fields) const {
  return build(0, [&](const Leaf& leaf, size_t f) -> py::object {
    py::object field = fields[py::str(leaf.name)];
    if (leaf.decl.kind == LeafKind::kArray || pipelines_[f]) return field;
    return ragged_items(leaf, field, 0, py::len(field));
  });
}

py::object SampleLayout::sample(const py::dict& fields, int64_t i, bool originals) const {
  return build(0, [&](const Leaf& leaf, size_t f) -> py::object {
    py::object field = fields[py::str(leaf.name)];
    if (leaf.decl.kind != LeafKind::kArray && !pipelines_[f]) return ragged_items(leaf, field, i, 1)[size_t(0)];
    py::object view = schema_[f].ragged ? py::cast(field.cast<const RaggedTensor&>().item(i))
                                        : py::cast(sample_of(field.cast<const Tensor&>(), i));
    if (!originals) return view;
    if (leaf.origin == LeafOrigin::kTorch) return py::module_::import("torch").attr("from_dlpack")(view);
    py::object array = view.attr("numpy")();
    return leaf.origin == LeafOrigin::kPythonScalar ? array.attr("item")() : array;
  });
}

// ---------------------------------------------------------------------------
// ferry.Field

namespace {

FieldDecl make_field(const std::string& dtype, const std::vector<int64_t>& shape, bool ragged, int64_t capacity) {
  FieldDecl d;
  if (dtype == "bytes" || dtype == "str" || dtype == "object") {
    d.kind = dtype == "bytes" ? LeafKind::kBytes : dtype == "str" ? LeafKind::kStr : LeafKind::kObject;
    if (!shape.empty())
      throw InvalidOption("ferry: a " + dtype + " field has a length per sample, not a shape; leave shape out");
  } else {
    const auto t = dtype_named(dtype);
    if (!t)
      throw InvalidOption("ferry: Field dtype '" + dtype + "' is not one of " + dtype_names() + ", bytes, str, object");
    d.dtype = *t;
    if (ragged && !shape.empty())
      throw InvalidOption("ferry: a ragged field is 1-D with a length per sample; leave shape out");
    for (int64_t s : shape)
      if (s < 0) throw InvalidOption("ferry: Field shape " + shape_text(shape) + " has a negative dimension");
  }
  if (capacity < 0) throw InvalidOption("ferry: Field capacity must be >= 0 (0 = a default)");
  d.shape = shape;
  d.ragged = ragged || d.kind != LeafKind::kArray;
  d.capacity = capacity;
  return d;
}

std::string dtype_text(const FieldDecl& d) {
  return d.kind == LeafKind::kArray ? std::string(dtype_name(d.dtype)) : kind_name(d.kind);
}

std::string field_repr(const FieldDecl& d) {
  std::string s = "ferry.Field('" + dtype_text(d) + "'";
  if (d.kind == LeafKind::kArray && !d.ragged) s += ", " + shape_text(d.shape);
  if (d.kind == LeafKind::kArray && d.ragged) s += ", ragged=True";
  if (d.ragged && d.capacity > 0) s += ", capacity=" + std::to_string(d.capacity);
  return s + ")";
}

}  // namespace

void bind_sample_layout(py::module_& m) {
  py::class_<FieldDecl>(m, "Field",
                        "One leaf of a sample, for DataLoader(schema=...): a numeric dtype with a fixed\n"
                        "shape (or ragged=True for 1-D arrays whose length varies), or 'bytes', 'str',\n"
                        "'object' (variable length by nature). capacity: elements per sample the batch\n"
                        "slot reserves for a ragged field (0 = a default; larger samples still work).")
      .def(py::init(&make_field), py::arg("dtype"), py::arg("shape") = std::vector<int64_t>{}, py::kw_only(),
           py::arg("ragged") = false, py::arg("capacity") = 0)
      .def_property_readonly("dtype", &dtype_text)
      .def_property_readonly("shape", [](const FieldDecl& d) { return py::tuple(py::cast(d.shape)); })
      .def_readonly("ragged", &FieldDecl::ragged)
      .def_readonly("capacity", &FieldDecl::capacity)
      .def("__eq__",
           [](const FieldDecl& a, const FieldDecl& b) {
             return a.kind == b.kind && a.dtype == b.dtype && a.shape == b.shape && a.ragged == b.ragged &&
                    a.capacity == b.capacity;
           })
      .def("__repr__", &field_repr)
      .def(py::pickle([](const FieldDecl& d) { return py::make_tuple(dtype_text(d), d.shape, d.ragged, d.capacity); },
                      [](const py::tuple& t) {
                        return make_field(t[0].cast<std::string>(), t[1].cast<std::vector<int64_t>>(),
                                          t[2].cast<bool>(), t[3].cast<int64_t>());
                      }));
}

}  // namespace ferry::python
