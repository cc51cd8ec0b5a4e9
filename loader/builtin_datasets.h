#pragma once
/// ferry's datasets by name, in a form every start method can run: a dataset
/// made here knows how to rebuild itself in a spawned worker (spec()).
///
///   auto train = ferry::open_image_dataset("/data/train", transforms::PipelineSpec::named("train"));
///   auto bytes = ferry::open_raw_dataset("/data/train-{000..099}.tar");
///
/// Sources are opened with default SourceOptions; to use others, build
/// ImageDataset directly (it then runs under fork only).
#include <memory>
#include <string>

#include "loader/dataset.h"
#include "transforms/image_pipeline.h"

namespace ferry {

/// Images from `source_spec` (anything open_source() accepts) through `pipeline`:
/// fields "image" and "label".
std::shared_ptr<Dataset> open_image_dataset(const std::string& source_spec, const transforms::PipelineSpec& pipeline);
/// The encoded bytes of each sample (ragged uint8 "bytes") and its "label".
std::shared_ptr<Dataset> open_raw_dataset(const std::string& source_spec);
/// (image, mask) pairs (SegmentationPairs): two parallel folders, or, with
/// `masks` empty, a list file of image,mask lines; fields "image" and "mask"
/// (`mask_dtype`: kUInt8 or kInt64).
std::shared_ptr<Dataset> open_segmentation_dataset(const std::string& images, const std::string& masks,
                                                   const transforms::PipelineSpec& pipeline,
                                                   DType mask_dtype = DType::kInt64);

/// PipelineSpec as one line of text and back (every field, exactly).
std::string serialize_pipeline(const transforms::PipelineSpec& spec);
transforms::PipelineSpec parse_pipeline(const std::string& text);

}  // namespace ferry
