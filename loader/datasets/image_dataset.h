#pragma once
/// ImageDataset: encoded images from a SampleSource, decoded and augmented by
/// an ImagePipeline straight into the batch. Fields:
///   "image"  the pipeline's output dtype and shape (e.g. float32 {3,224,224})
///   "label"  int64 scalar (the source's label, -1 when it has none)
///
///   auto ds = std::make_shared<ImageDataset>(open_source("/data/train"),
///                                            transforms::PipelineSpec::named("train"));
///
/// A sample whose bytes do not decode is a BadSample whose message starts
/// with the sample's path ("<path>: <why>"), so the loader's OnBadSample
/// policy applies; a source that cannot read its bytes (missing file, CRC
/// mismatch) throws DataError, which always fails the batch.
#include <memory>
#include <string>

#include "loader/dataset.h"
#include "loader/datasets/sample_source.h"
#include "transforms/image_pipeline.h"

namespace ferry {

class ImageDataset final : public Dataset {
 public:
  /// Validates the spec (InvalidOption).
  ImageDataset(std::shared_ptr<SampleSource> source, transforms::PipelineSpec spec);

  int64_t size() const override { return source_->size(); }
  Schema schema() const override;
  /// Reads (trace stage "read"), runs the pipeline with ctx.rng into field 0,
  /// adds the decoder's warnings to ctx.warnings, writes the label.
  void get(SampleContext& ctx, SampleWriter& out) override;
  std::string describe() const override;

  const SampleSource& source() const { return *source_; }
  const transforms::ImagePipeline& pipeline() const { return pipeline_; }

 private:
  std::shared_ptr<SampleSource> source_;
  transforms::ImagePipeline pipeline_;
};

}  // namespace ferry
