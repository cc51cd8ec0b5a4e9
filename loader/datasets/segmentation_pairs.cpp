#include "loader/datasets/segmentation_pairs.h"

#include <fcntl.h>

#include <unordered_map>

#include "base/error.h"
#include "loader/datasets/detail/csv.h"
#include "loader/datasets/detail/dir_walk.h"
#include "loader/datasets/detail/file_io.h"

namespace ferry {
namespace {

// "sub/name.png" -> "sub/name": what pairs an image with its mask.
std::string stem(const std::string& relative) {
  const size_t slash = relative.rfind('/');
  const size_t dot = relative.rfind('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return relative;
  return relative.substr(0, dot);
}

std::string trimmed_folder(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

bool is_header(const std::vector<std::string>& fields) {
  auto lower = [](std::string_view s) {
    std::string r(detail::trim(s));
    for (char& c : r)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return r;
  };
  return fields.size() == 2 && lower(fields[0]) == "image" && lower(fields[1]) == "mask";
}

}  // namespace

std::shared_ptr<const SegmentationPairs> SegmentationPairs::from_folders(const std::string& images_dir,
                                                                         const std::string& masks_dir,
                                                                         const SegmentationPairsOptions& options) {
  std::shared_ptr<SegmentationPairs> p(new SegmentationPairs());
  const std::string images = trimmed_folder(images_dir), masks = trimmed_folder(masks_dir);
  const auto exts = detail::lowered(options.extensions);
  const auto image_files = detail::list_files_recursive(AT_FDCWD, images, images, exts);
  const auto mask_files = detail::list_files_recursive(AT_FDCWD, masks, masks, exts);
  if (mask_files.empty())
    throw DataError("SegmentationPairs: no masks in '" + masks + "' (files ending in one of the extensions)");
  std::unordered_map<std::string, size_t> by_stem;  // stem -> index into image_files, or SIZE_MAX when ambiguous
  for (size_t i = 0; i < image_files.size(); ++i) {
    const auto [it, fresh] = by_stem.emplace(stem(image_files[i]), i);
    if (!fresh) it->second = SIZE_MAX;
  }
  for (const std::string& m : mask_files) {
    const auto it = by_stem.find(stem(m));
    const std::string mask = detail::join_path(masks, m);
    if (it == by_stem.end())
      throw DataError("SegmentationPairs: mask '" + mask + "' has no image '" + detail::join_path(images, stem(m)) +
                      ".*'; every mask needs its image (same relative path and name)");
    if (it->second == SIZE_MAX)
      throw DataError("SegmentationPairs: mask '" + mask + "' matches several images '" +
                      detail::join_path(images, stem(m)) + ".*'; keep one, or list the pairs in a file");
    p->images_.push_back(detail::join_path(images, image_files[it->second]));
    p->masks_.push_back(mask);
  }
  p->images_spec_ = images;
  p->masks_spec_ = masks;
  p->description_ = "SegmentationFolders(images " + images + ", masks " + masks + ": " +
                    std::to_string(p->images_.size()) + " pairs, " +
                    std::to_string(image_files.size() - p->images_.size()) + " images without a mask)";
  return p;
}

std::shared_ptr<const SegmentationPairs> SegmentationPairs::from_list(const std::string& list_path,
                                                                      const SegmentationPairsOptions& options) {
  std::shared_ptr<SegmentationPairs> p(new SegmentationPairs());
  const char delim = detail::list_delimiter(list_path, options.delimiter);
  const std::string expected = delim == '\t' ? "image<TAB>mask" : "image,mask";
  const std::string dir = detail::parent_dir(list_path);
  bool first = true;
  detail::read_csv_lines(list_path, delim, [&](const detail::CsvLine& line) {
    if (first) {
      first = false;
      if (options.header == ListHeader::kPresent || (options.header == ListHeader::kAuto && is_header(line.fields)))
        return;
    }
    if (line.fields.size() != 2)
      throw DataError(line.where + "expected 2 fields (" + expected + "), found " + std::to_string(line.fields.size()) +
                      " in " + detail::shown(line.text));
    const std::string_view image = detail::trim(line.fields[0]), mask = detail::trim(line.fields[1]);
    if (image.empty() || mask.empty()) throw DataError(line.where + "empty path in " + detail::shown(line.text));
    p->images_.push_back(detail::join_path(dir, std::string(image)));
    p->masks_.push_back(detail::join_path(dir, std::string(mask)));
  });
  if (p->images_.empty())
    throw DataError("SegmentationPairs: '" + list_path + "' lists no pairs (expected lines " + expected + ")");
  p->images_spec_ = list_path;
  p->description_ = "SegmentationList(" + list_path + ": " + std::to_string(p->images_.size()) + " pairs)";
  return p;
}

std::span<const uint8_t> SegmentationPairs::read_image(int64_t i, ReadBuffer& scratch) const {
  return detail::read_whole_file(images_[static_cast<size_t>(i)], scratch);
}

std::span<const uint8_t> SegmentationPairs::read_mask(int64_t i, ReadBuffer& scratch) const {
  return detail::read_whole_file(masks_[static_cast<size_t>(i)], scratch);
}

}  // namespace ferry
