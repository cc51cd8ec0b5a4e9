#pragma once
/// The shape of a Python dataset's samples: how one sample becomes slot bytes
/// in a worker, and how one batch becomes Python objects again.
///
/// A sample is a tree. dicts (str keys), tuples, lists and namedtuples are
/// nodes; everything else is a leaf, and each leaf is one field of the batch
/// schema, named by its path ("image", "meta.id", "0"):
///
///   leaf in a sample                     field                      leaf in a batch
///   numpy array, torch CPU tensor,       fixed: its dtype, shape     ferry.Tensor {B, shape...}
///     anything with __dlpack__ or the    ragged (declared): 1-D      ferry.RaggedTensor
///     array interface
///   int / float / bool                   int64 / float64 / bool {}   ferry.Tensor {B}
///   bytes, str                           ragged uint8 (str: utf-8)   list of bytes / str
///   anything else                        ragged uint8 (pickled)      list of objects
///   encoded image + a transform          the pipeline's output       ferry.Tensor {B, C, H, W}
///
/// Arrays are copied once, straight from the array's memory into the slot;
/// they never go through pickle. Only "anything else" leaves are pickled.
///
/// A layout holds Python objects (namedtuple classes, pickle functions):
/// create, use and destroy it with the GIL held (make_layout's deleter takes it).
#include <pybind11/pybind11.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "loader/dataset.h"
#include "transforms/image_pipeline.h"

namespace ferry::python {

/// What a leaf holds, and so how it is written and read back.
enum class LeafKind : uint8_t {
  kArray,  ///< a numeric array or scalar: a fixed or ragged field of its dtype
  kBytes,  ///< bytes / bytearray: ragged uint8
  kStr,    ///< str: ragged uint8 of its utf-8
  kObject  ///< any other object: ragged uint8 of its pickle
};

/// A declared leaf: the Python class ferry.Field. `kind` kArray needs a
/// dtype; the others are ragged uint8 by nature. A bytes field named in
/// transforms is decoded by its pipeline instead (a fixed image field).
struct FieldDecl {
  LeafKind kind = LeafKind::kArray;
  DType dtype = DType::kUInt8;
  std::vector<int64_t> shape;  ///< fixed arrays: the per-sample shape
  bool ragged = false;         ///< arrays: 1-D with a per-sample length
  int64_t capacity = 0;        ///< ragged: elements per sample the slot is sized for; 0 = a default

  /// "float32", "int64[ragged]", "bytes"... as in messages and repr().
  std::string describe() const;
};

/// Where a leaf's samples came from, so that collate_fn sees the same kinds.
enum class LeafOrigin : uint8_t { kNumpy, kTorch, kPythonScalar };

/// field name -> pipeline, as given by DataLoader(transforms=...).
using Transforms = std::map<std::string, transforms::PipelineSpec>;

class SampleLayout {
 public:
  /// The layout of `sample` (dataset[index]), e.g. the first sample.
  static std::shared_ptr<SampleLayout> infer(pybind11::handle sample, int64_t index);
  /// The layout of a structure shaped like a sample whose leaves are
  /// ferry.Field; `source` says where it came from, in messages.
  static std::shared_ptr<SampleLayout> declared(pybind11::handle fields,
                                                const std::string& source = "as declared in schema=");
  /// The layout of a C++ dataset's batches: a dict of its fields.
  static std::shared_ptr<SampleLayout> of_schema(const Schema& schema);
  ~SampleLayout();

  /// Turns the named fields into image fields decoded by their pipelines.
  /// Throws InvalidOption for a name that is not a bytes or uint8 field.
  void apply(const Transforms& transforms);
  const Transforms& transforms() const { return transforms_; }

  /// The structure of ferry.Field leaves this layout was made from (image
  /// fields show as bytes): what ferry.infer_schema returns, and what a
  /// spawned worker rebuilds the layout from (with transforms()).
  pybind11::object fields() const;
  const Schema& schema() const { return schema_; }
  /// Per leaf, where its samples came from; with fields(), what carries an
  /// inferred layout to another process.
  std::vector<LeafOrigin> origins() const;
  void set_origins(const std::vector<LeafOrigin>& origins);
  /// "from sample 0", "as declared in schema=": where the layout came from.
  const std::string& source() const { return source_; }

  /// Writes `sample` (GIL held) into its place in the batch. Throws
  /// std::runtime_error naming the field for a sample that does not fit,
  /// ferry::BadSample for an image that does not decode, and
  /// pybind11::error_already_set for Python errors on the way.
  void write(pybind11::handle sample, SampleContext& ctx, SampleWriter& out) const;

  /// A batch as Python objects shaped like the samples. `fields` is the
  /// batch's {name: Tensor | RaggedTensor} (batch_to_dict).
  pybind11::object batch(const pybind11::dict& fields) const;
  /// Sample `i` of a batch without the batch dimension: ferry.Tensor views
  /// (`originals` false), or, for collate_fn, numpy arrays, torch tensors and
  /// Python scalars as the dataset returned them (`originals` true).
  pybind11::object sample(const pybind11::dict& fields, int64_t i, bool originals) const;

 private:
  struct Leaf {
    std::string name;  // the path: the schema field's name
    FieldDecl decl;
    LeafOrigin origin = LeafOrigin::kNumpy;
  };
  struct Node {
    enum class Kind : uint8_t { kLeaf, kDict, kTuple, kList, kNamedTuple };
    Kind kind = Kind::kLeaf;
    std::string path;                    // for messages; "" is the sample itself
    size_t leaf = 0;                     // kLeaf: index into leaves_
    std::vector<pybind11::object> keys;  // kDict: the str keys, in order
    std::vector<size_t> children;        // indices into nodes_
    pybind11::object type;               // kNamedTuple: the class
  };
  class Builder;
  SampleLayout() = default;
  void finish();
  template <class LeafFn>
  pybind11::object build(size_t node, const LeafFn& leaf) const;
  void write_node(size_t node, pybind11::handle value, SampleContext& ctx, SampleWriter& out) const;
  void write_leaf(const Leaf& leaf, size_t field, pybind11::handle value, SampleContext& ctx, SampleWriter& out) const;
  pybind11::list ragged_items(const Leaf& leaf, pybind11::handle field, int64_t first, int64_t count) const;
  std::string where(const Node& node) const;

  std::vector<Node> nodes_;   // nodes_[0] is the root
  std::vector<Leaf> leaves_;  // in schema order
  Schema schema_;
  Transforms transforms_;
  std::vector<std::unique_ptr<transforms::ImagePipeline>> pipelines_;  // per leaf; null but for image fields
  std::string source_;                                                 // "from sample 0" or "as declared": for messages
  pybind11::object pickle_dumps_;
  pybind11::object pickle_loads_;
};

/// ferry.Field and ferry.infer_schema.
void bind_sample_layout(pybind11::module_& m);

}  // namespace ferry::python
