#include "loader/detail/batch_assembly.h"

#include "base/error.h"

namespace ferry::detail {
namespace {

std::vector<int64_t> row_major_strides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (size_t i = shape.size(); i > 1; --i) strides[i - 2] = strides[i - 1] * shape[i - 1];
  return strides;
}

}  // namespace

Batch assemble_batch(const Schema& schema, std::shared_ptr<void> owner, const std::byte* memory, size_t bytes,
                     const BatchPayload& payload, int64_t index, uint64_t epoch, std::vector<int64_t> sample_indices) {
  if (payload.fields.size() != schema.size())
    throw Error("ferry: internal error: batch " + std::to_string(index) + " describes " +
                std::to_string(payload.fields.size()) + " fields, the schema has " + std::to_string(schema.size()));
  std::vector<BatchField> fields;
  fields.reserve(schema.size());
  auto* base = const_cast<std::byte*>(memory);
  for (size_t i = 0; i < schema.size(); ++i) {
    const FieldSpec& f = schema[i];
    BatchField bf;
    bf.name = f.name;
    bf.ragged = f.ragged;
    bf.values.data = base + payload.fields[i].offset;
    bf.values.dtype = f.dtype;
    if (f.ragged) {
      bf.values.shape = {payload.fields[i].ragged_total};
      bf.offsets.data = base + payload.fields[i].offsets_offset;
      bf.offsets.dtype = DType::kInt64;
      bf.offsets.shape = {payload.samples + 1};
      bf.offsets.strides = {1};
    } else {
      bf.values.shape.push_back(payload.samples);
      bf.values.shape.insert(bf.values.shape.end(), f.shape.begin(), f.shape.end());
    }
    bf.values.strides = row_major_strides(bf.values.shape);
    fields.push_back(std::move(bf));
  }
  return Batch(std::move(owner), memory, bytes, payload.samples, index, epoch, std::move(sample_indices),
               std::move(fields));
}

}  // namespace ferry::detail
