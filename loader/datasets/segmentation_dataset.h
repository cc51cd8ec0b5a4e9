#pragma once
/// SegmentationDataset: (image, mask) pairs through one ImagePipeline for the
/// image and a MaskPipeline that follows it. Fields:
///   "image"  the pipeline's output dtype and shape (e.g. float32 {3,224,224})
///   "mask"   class ids, uint8 or int64 {size, size}: the same random crop,
///            resize box and flip as the image, resized by nearest neighbour,
///            never normalized or colour-jittered
///
///   auto pairs = SegmentationPairs::from_folders("/voc/JPEGImages", "/voc/SegmentationClass");
///   auto ds = std::make_shared<SegmentationDataset>(pairs, transforms::PipelineSpec::named("train", 320));
///
/// An image or mask that does not decode, or a mask whose size is not its
/// image's, is a BadSample whose message starts with the file's path (the
/// loader's OnBadSample policy applies); an unreadable file is a DataError.
#include <memory>
#include <string>

#include "loader/dataset.h"
#include "loader/datasets/segmentation_pairs.h"
#include "transforms/image_pipeline.h"
#include "transforms/mask_pipeline.h"

namespace ferry {

class SegmentationDataset final : public Dataset {
 public:
  /// Validates the spec and the mask dtype (kUInt8 or kInt64; InvalidOption).
  SegmentationDataset(std::shared_ptr<const SegmentationPairs> pairs, transforms::PipelineSpec spec,
                      DType mask_dtype = DType::kInt64);

  int64_t size() const override { return pairs_->size(); }
  Schema schema() const override;
  /// Reads both files (trace stage "read"), runs the image pipeline with
  /// ctx.rng into field 0 and the mask pipeline, with the image's box and
  /// flip, into field 1.
  void get(SampleContext& ctx, SampleWriter& out) override;
  std::string describe() const override;

  const SegmentationPairs& pairs() const { return *pairs_; }
  const transforms::ImagePipeline& pipeline() const { return image_; }

 private:
  std::shared_ptr<const SegmentationPairs> pairs_;
  transforms::ImagePipeline image_;
  transforms::MaskPipeline mask_;
};

}  // namespace ferry
