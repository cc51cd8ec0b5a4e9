#include "loader/detail/batch_layout.h"

#include "base/byte_io.h"
#include "base/error.h"

namespace ferry::detail {

SlotLayout::SlotLayout(const Schema& schema, int64_t batch_size) : schema_(schema), batch_size_(batch_size) {
  size_t at = 0;
  for (const FieldSpec& f : schema) {
    FieldPlacement p;
    at = align_up(at, kFieldAlignment);
    p.offset = at;
    if (f.ragged) {
      if (f.ragged_capacity < 0) throw InvalidOption("ferry: field '" + f.name + "': ragged_capacity must be >= 0");
      p.ragged_capacity = f.ragged_capacity;
      p.capacity = size_t(batch_size) * size_t(f.ragged_capacity) * dtype_size(f.dtype);
      at = align_up(at + p.capacity, kFieldAlignment);
      p.offsets_offset = at;
      at += size_t(batch_size + 1) * sizeof(int64_t);
    } else {
      for (int64_t d : f.shape)
        if (d < 0) throw InvalidOption("ferry: field '" + f.name + "' has a negative dimension");
      p.capacity = size_t(batch_size) * size_t(sample_bytes(f));
      at += p.capacity;
    }
    fields_.push_back(p);
  }
  bytes_ = align_up(std::max<size_t>(at, 1), 4096);
}

std::vector<std::byte> BatchPayload::encode() const {
  ByteWriter w;
  w.put(samples);
  w.put_vector<Field>(fields);
  w.put(skipped);
  w.put(substituted);
  w.put(warnings);
  w.put<uint32_t>(static_cast<uint32_t>(bad_samples.size()));
  for (const auto& m : bad_samples) w.put_string(m);
  w.put(stream_end);
  w.put_vector<int64_t>(positions);
  return std::move(w.buffer());
}

BatchPayload BatchPayload::decode(std::span<const std::byte> bytes) {
  ByteReader r(bytes);
  BatchPayload p;
  p.samples = r.get<int64_t>();
  p.fields = r.get_vector<Field>();
  p.skipped = r.get<int64_t>();
  p.substituted = r.get<int64_t>();
  p.warnings = r.get<int64_t>();
  const uint32_t n = r.get<uint32_t>();
  for (uint32_t i = 0; i < n; ++i) p.bad_samples.push_back(r.get_string());
  p.stream_end = r.get<bool>();
  p.positions = r.get_vector<int64_t>();
  return p;
}

}  // namespace ferry::detail
