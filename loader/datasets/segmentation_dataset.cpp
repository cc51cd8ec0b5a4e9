#include "loader/datasets/segmentation_dataset.h"

#include "base/error.h"
#include "trace/trace.h"

namespace ferry {
namespace {

std::shared_ptr<const SegmentationPairs> checked(std::shared_ptr<const SegmentationPairs> p) {
  if (!p) throw InvalidOption("SegmentationDataset: no pairs");
  return p;
}

}  // namespace

SegmentationDataset::SegmentationDataset(std::shared_ptr<const SegmentationPairs> pairs, transforms::PipelineSpec spec,
                                         DType mask_dtype)
    : pairs_(checked(std::move(pairs))), image_(spec), mask_(spec, mask_dtype) {}

Schema SegmentationDataset::schema() const {
  FieldSpec image{.name = "image", .dtype = image_.output_dtype(), .shape = image_.output_shape()};
  FieldSpec mask{.name = "mask", .dtype = mask_.output_dtype(), .shape = mask_.output_shape()};
  return {image, mask};
}

void SegmentationDataset::get(SampleContext& ctx, SampleWriter& out) {
  // One read buffer per file and thread, reused: no allocation per sample once warm.
  thread_local ReadBuffer image_bytes, mask_bytes;
  std::span<const uint8_t> image, mask;
  {
    trace::ScopedStage read(trace::Stage::kRead);
    image = pairs_->read_image(ctx.index, image_bytes);
    mask = pairs_->read_mask(ctx.index, mask_bytes);
  }
  transforms::DecodeReport report;
  try {
    image_.run(image.data(), image.size(), ctx.rng, out.fixed(0), &report);
  } catch (const BadSample& e) {
    throw BadSample(pairs_->image_path(ctx.index) + ": " + e.what());
  }
  try {
    mask_.run(mask.data(), mask.size(), report, out.fixed(1));
  } catch (const BadSample& e) {
    throw BadSample(pairs_->mask_path(ctx.index) + ": " + e.what());
  }
  ctx.warnings += report.warnings;
}

std::string SegmentationDataset::describe() const {
  return "Segmentation(" + pairs_->describe() + ", pipeline " + image_.spec().name + " " +
         std::to_string(image_.spec().size) + ", mask " + std::string(dtype_name(mask_.output_dtype())) + ")";
}

}  // namespace ferry
