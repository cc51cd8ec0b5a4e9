#include "loader/builtin_datasets.h"

#include <cstdio>
#include <cstring>
#include <map>
#include <sstream>

#include "base/error.h"
#include "loader/dataset_registry.h"
#include "loader/datasets/image_dataset.h"
#include "loader/datasets/open_source.h"
#include "loader/datasets/raw_bytes_dataset.h"
#include "loader/datasets/segmentation_dataset.h"
#include "loader/datasets/tar_shard_iterable.h"

namespace ferry {
namespace {

// Wraps a dataset with the spec that rebuilds it.
class Rebuildable final : public Dataset {
 public:
  Rebuildable(std::shared_ptr<Dataset> inner, DatasetSpec spec) : inner_(std::move(inner)), spec_(std::move(spec)) {}
  int64_t size() const override { return inner_->size(); }
  Schema schema() const override { return inner_->schema(); }
  void get(SampleContext& ctx, SampleWriter& out) override { inner_->get(ctx, out); }
  void open_in_worker(int worker_id) override { inner_->open_in_worker(worker_id); }
  std::string describe() const override { return inner_->describe(); }
  DatasetSpec spec() const override { return spec_; }

 private:
  std::shared_ptr<Dataset> inner_;
  DatasetSpec spec_;
};

// Doubles as text without loss: %a (hex float) round-trips every bit.
std::string exact(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%a", v);
  return buf;
}

std::shared_ptr<Dataset> image_from_args(const std::string& args) {
  const auto nl = args.find('\n');
  if (nl == std::string::npos) throw InvalidOption("ferry: image dataset args need 'pipeline\\nsource'");
  return open_image_dataset(args.substr(nl + 1), parse_pipeline(args.substr(0, nl)));
}

// Segmentation args: "pipeline\nmask dtype\nimages\nmasks" (masks may be empty).
std::shared_ptr<Dataset> segmentation_from_args(const std::string& args) {
  std::vector<std::string> parts;
  for (size_t pos = 0;;) {
    const size_t nl = args.find('\n', pos);
    parts.push_back(args.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos));
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  if (parts.size() != 4)
    throw InvalidOption("ferry: segmentation dataset args need 'pipeline\\nmask dtype\\nimages\\nmasks'");
  return open_segmentation_dataset(parts[2], parts[3], parse_pipeline(parts[0]),
                                   static_cast<DType>(std::stoi(parts[1])));
}

}  // namespace

std::string serialize_pipeline(const transforms::PipelineSpec& p) {
  std::ostringstream o;
  o << "name=" << p.name << " size=" << p.size << " resize_size=" << p.resize_size
    << " scale_min=" << exact(p.scale_min) << " scale_max=" << exact(p.scale_max) << " ratio_min=" << exact(p.ratio_min)
    << " ratio_max=" << exact(p.ratio_max) << " flip_p=" << exact(p.flip_p);
  const transforms::ColorJitter& j = p.color_jitter;
  o << " brightness=" << exact(j.brightness.lo) << "," << exact(j.brightness.hi) << " contrast=" << exact(j.contrast.lo)
    << "," << exact(j.contrast.hi) << " saturation=" << exact(j.saturation.lo) << "," << exact(j.saturation.hi)
    << " hue=" << exact(j.hue.lo) << "," << exact(j.hue.hi) << " grayscale_p=" << exact(p.grayscale_p)
    << " interpolation=" << transforms::interpolation_name(p.interpolation);
  for (int c = 0; c < 3; ++c) o << " mean" << c << "=" << exact(p.mean[size_t(c)]);
  for (int c = 0; c < 3; ++c) o << " std" << c << "=" << exact(p.std[size_t(c)]);
  o << " dtype=" << int(p.dtype) << " layout=" << int(p.layout) << " grayscale=" << int(p.grayscale)
    << " exif=" << int(p.exif_orientation) << " keep_alpha=" << int(p.keep_alpha) << " max_pixels=" << p.max_pixels;
  return o.str();
}

transforms::PipelineSpec parse_pipeline(const std::string& text) {
  std::map<std::string, std::string> kv;
  std::istringstream in(text);
  for (std::string item; in >> item;) {
    const auto eq = item.find('=');
    if (eq == std::string::npos) throw InvalidOption("ferry: bad pipeline text '" + text + "'");
    kv[item.substr(0, eq)] = item.substr(eq + 1);
  }
  auto get = [&](const char* key) -> const std::string& {
    auto it = kv.find(key);
    if (it == kv.end()) throw InvalidOption(std::string("ferry: pipeline text lacks '") + key + "'");
    return it->second;
  };
  auto num = [&](const char* key) { return std::strtod(get(key).c_str(), nullptr); };
  transforms::PipelineSpec p;
  p.name = get("name");
  p.size = int(num("size"));
  p.resize_size = int(num("resize_size"));
  p.scale_min = num("scale_min");
  p.scale_max = num("scale_max");
  p.ratio_min = num("ratio_min");
  p.ratio_max = num("ratio_max");
  p.flip_p = num("flip_p");
  auto range = [&](const char* key) {
    const std::string& v = get(key);
    const auto comma = v.find(',');
    if (comma == std::string::npos) throw InvalidOption(std::string("ferry: pipeline text: bad '") + key + "'");
    return transforms::JitterRange{std::strtod(v.substr(0, comma).c_str(), nullptr),
                                   std::strtod(v.substr(comma + 1).c_str(), nullptr)};
  };
  p.color_jitter.brightness = range("brightness");
  p.color_jitter.contrast = range("contrast");
  p.color_jitter.saturation = range("saturation");
  p.color_jitter.hue = range("hue");
  p.grayscale_p = num("grayscale_p");
  const auto interpolation = transforms::parse_interpolation(get("interpolation"));
  if (!interpolation) throw InvalidOption("ferry: pipeline text: unknown interpolation '" + get("interpolation") + "'");
  p.interpolation = *interpolation;
  const char* means[] = {"mean0", "mean1", "mean2"};
  const char* stds[] = {"std0", "std1", "std2"};
  for (size_t c = 0; c < 3; ++c) {
    p.mean[c] = float(num(means[c]));
    p.std[c] = float(num(stds[c]));
  }
  p.dtype = static_cast<DType>(std::stoi(get("dtype")));
  p.layout = static_cast<transforms::Layout>(std::stoi(get("layout")));
  p.grayscale = get("grayscale") == "1";
  p.exif_orientation = get("exif") == "1";
  p.keep_alpha = get("keep_alpha") == "1";
  p.max_pixels = std::stoll(get("max_pixels"));
  p.validate();
  return p;
}

std::shared_ptr<Dataset> open_image_dataset(const std::string& source_spec, const transforms::PipelineSpec& pipeline) {
  auto inner = std::make_shared<ImageDataset>(open_source(source_spec), pipeline);
  return std::make_shared<Rebuildable>(inner, DatasetSpec{"image", serialize_pipeline(pipeline) + "\n" + source_spec});
}

std::shared_ptr<Dataset> open_raw_dataset(const std::string& source_spec) {
  auto inner = std::make_shared<RawBytesDataset>(open_source(source_spec));
  return std::make_shared<Rebuildable>(inner, DatasetSpec{"raw", source_spec});
}

std::shared_ptr<Dataset> open_segmentation_dataset(const std::string& images, const std::string& masks,
                                                   const transforms::PipelineSpec& pipeline, DType mask_dtype) {
  auto pairs = masks.empty() ? SegmentationPairs::from_list(images) : SegmentationPairs::from_folders(images, masks);
  auto inner = std::make_shared<SegmentationDataset>(std::move(pairs), pipeline, mask_dtype);
  return std::make_shared<Rebuildable>(
      inner, DatasetSpec{"segmentation", serialize_pipeline(pipeline) + "\n" + std::to_string(int(mask_dtype)) + "\n" +
                                             images + "\n" + masks});
}

void register_builtin_datasets() {
  register_dataset("image", image_from_args);
  register_dataset("raw", [](const std::string& args) { return open_raw_dataset(args); });
  register_dataset("segmentation", segmentation_from_args);
  register_iterable_dataset("tar-stream", [](const std::string& args) { return TarShardIterable::from_args(args); });
}

}  // namespace ferry
