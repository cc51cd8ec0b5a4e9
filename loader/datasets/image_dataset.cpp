#include "loader/datasets/image_dataset.h"

#include <vector>

#include "base/error.h"
#include "trace/trace.h"

namespace ferry {

namespace {
std::shared_ptr<SampleSource> checked(std::shared_ptr<SampleSource> s) {
  if (!s) throw InvalidOption("ImageDataset: no source");
  return s;
}

// SampleContext gains a `warnings` counter with the engine; until every
// checkout has it, add to it only where it exists.
template <class Ctx>
void add_warnings(Ctx& ctx, int n) {
  if constexpr (requires { ctx.warnings += n; }) ctx.warnings += n;
}
}  // namespace

ImageDataset::ImageDataset(std::shared_ptr<SampleSource> source, transforms::PipelineSpec spec)
    : source_(checked(std::move(source))), pipeline_(std::move(spec)) {}

Schema ImageDataset::schema() const {
  FieldSpec image{.name = "image", .dtype = pipeline_.output_dtype(), .shape = pipeline_.output_shape()};
  FieldSpec label{.name = "label", .dtype = DType::kInt64, .shape = {}};
  return {image, label};
}

void ImageDataset::get(SampleContext& ctx, SampleWriter& out) {
  // One read buffer per thread, reused: no allocation per sample once warm.
  thread_local ReadBuffer scratch;
  std::span<const uint8_t> bytes;
  {
    trace::ScopedStage read(trace::Stage::kRead);
    bytes = source_->read(ctx.index, scratch);
  }
  transforms::DecodeReport report;
  try {
    pipeline_.run(bytes.data(), bytes.size(), ctx.rng, out.fixed(0), &report);
  } catch (const BadSample& e) {
    throw BadSample(source_->path(ctx.index) + ": " + e.what());
  }
  add_warnings(ctx, report.warnings);
  *out.fixed_as<int64_t>(1) = source_->label(ctx.index);
}

std::string ImageDataset::describe() const {
  return "Image(" + source_->describe() + ", pipeline " + pipeline_.spec().name + " " +
         std::to_string(pipeline_.spec().size) + ")";
}

}  // namespace ferry
