#pragma once
/// SegmentationPairs: the (image, mask) files of a segmentation dataset, from
/// two parallel folders or from a list file with two path columns.
///
///   auto voc = SegmentationPairs::from_folders("/voc/JPEGImages", "/voc/SegmentationClass");
///   auto city = SegmentationPairs::from_list("/data/cityscapes_train.csv");   // image,mask per line
///
/// Parallel folders: every mask under `masks` (recursively, any file with one
/// of `extensions`, in torchvision's (folder, name) order) pairs with the
/// image under `images` at the same relative path and name up to the
/// extension, whatever the image's extension (so 2007_000032.png pairs with
/// 2007_000032.jpg). A mask without its image, or with two candidates
/// (a.jpg and a.png), is a DataError naming it; images without a mask are
/// left out (Pascal VOC's JPEGImages holds many) and counted in describe().
///
/// List file: CSV (or TSV for .tsv) lines `image,mask`, paths relative to the
/// list's folder or absolute, with FileList's quoting, comments and header
/// rule (kAuto: the first line is a header when it reads image,mask).
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "loader/datasets/file_list.h"
#include "loader/datasets/sample_source.h"

namespace ferry {

struct SegmentationPairsOptions {
  /// File extensions of images and masks (with the dot; case-insensitive).
  std::vector<std::string> extensions = {".jpg", ".jpeg", ".png", ".webp"};
  ListHeader header = ListHeader::kAuto;  ///< list files: whether the first line names the columns
  char delimiter = 0;                     ///< list files: 0 = by extension ('\t' for .tsv)
};

class SegmentationPairs {
 public:
  /// Pairs masks with images by relative path (see above). Throws DataError
  /// for a missing or empty folder, a mask without its image, or an ambiguous pair.
  static std::shared_ptr<const SegmentationPairs> from_folders(const std::string& images, const std::string& masks,
                                                               const SegmentationPairsOptions& options = {});
  /// Reads a list of `image,mask` lines. Throws DataError naming the list and line.
  static std::shared_ptr<const SegmentationPairs> from_list(const std::string& list_path,
                                                            const SegmentationPairsOptions& options = {});

  int64_t size() const { return static_cast<int64_t>(images_.size()); }
  const std::string& image_path(int64_t i) const { return images_[static_cast<size_t>(i)]; }
  const std::string& mask_path(int64_t i) const { return masks_[static_cast<size_t>(i)]; }
  /// The encoded bytes of pair i's image or mask, in `scratch` (see
  /// SampleSource::read). Throws DataError naming the file.
  std::span<const uint8_t> read_image(int64_t i, ReadBuffer& scratch) const;
  std::span<const uint8_t> read_mask(int64_t i, ReadBuffer& scratch) const;
  /// One line for reports, e.g. "SegmentationFolders(images /voc/JPEGImages, masks ...: 2913 pairs, 14212
  /// images without a mask)".
  const std::string& describe() const { return description_; }
  /// How to open the same pairs again: {images, masks} for folders, {list, ""} for a list.
  const std::string& images_spec() const { return images_spec_; }
  const std::string& masks_spec() const { return masks_spec_; }

 private:
  SegmentationPairs() = default;
  std::vector<std::string> images_, masks_;
  std::string description_, images_spec_, masks_spec_;
};

}  // namespace ferry
