#include "loader/datasets/raw_bytes_dataset.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "base/error.h"
#include "trace/trace.h"

namespace ferry {

RawBytesDataset::RawBytesDataset(std::shared_ptr<SampleSource> source, int64_t expected_bytes)
    : source_(std::move(source)), expected_bytes_(expected_bytes) {
  if (!source_) throw InvalidOption("RawBytesDataset: no source");
  if (expected_bytes_ <= 0) {
    ReadBuffer scratch;
    int64_t largest = 0;
    const int64_t n = source_->size();
    const int64_t probes = std::min<int64_t>(n, 16);
    for (int64_t k = 0; k < probes; ++k) {
      largest = std::max<int64_t>(largest, static_cast<int64_t>(source_->read(k * n / probes, scratch).size()));
    }
    expected_bytes_ = std::max<int64_t>(4096, (largest + largest / 4 + 4095) / 4096 * 4096);
  }
}

Schema RawBytesDataset::schema() const {
  FieldSpec bytes{
      .name = "bytes", .dtype = DType::kUInt8, .shape = {}, .ragged = true, .ragged_capacity = expected_bytes_};
  FieldSpec label{.name = "label", .dtype = DType::kInt64, .shape = {}};
  return {bytes, label};
}

void RawBytesDataset::get(SampleContext& ctx, SampleWriter& out) {
  // One buffer per thread: reads reuse its capacity, so a steady state allocates nothing.
  thread_local ReadBuffer scratch;
  std::span<const uint8_t> bytes;
  {
    trace::ScopedStage read(trace::Stage::kRead);
    bytes = source_->read(ctx.index, scratch);
  }
  trace::ScopedStage write(trace::Stage::kWrite);
  void* dst = out.ragged(0, static_cast<int64_t>(bytes.size()));
  if (!bytes.empty()) std::memcpy(dst, bytes.data(), bytes.size());
  *out.fixed_as<int64_t>(1) = source_->label(ctx.index);
}

}  // namespace ferry
