#pragma once
/// ImageFolder: `root/<class>/<file>` laid out as torchvision expects.
///
/// - classes are the sub-folders of root (symlinks followed), sorted by name
///   (byte order, as Python sorts); label = position in that order;
/// - a class's files are found recursively (like os.walk(followlinks=True)),
///   ordered by (folder, file name); only names whose extension is in
///   `extensions` (case-insensitive) count; names starting with '.' are ignored;
/// - an empty root, or a class without a single image, is a DataError naming
///   the folder (torchvision refuses both too).
///
/// Indexing reads directories with getdents64 in 64 KiB batches, one class per
/// task on a small thread pool, and keeps names in one string pool (about 40 bytes per file).
/// index_seconds() reports how long it took.
#include <cstdint>
#include <string>
#include <vector>

#include "loader/datasets/sample_source.h"

namespace ferry {

struct ImageFolderOptions {
  /// File extensions that count as images (with the dot; compared case-insensitively).
  std::vector<std::string> extensions = {".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"};
  /// Threads for indexing; 0 = one per core.
  int index_threads = 0;
};

class ImageFolder final : public SampleSource {
 public:
  /// Indexes `root`. Throws DataError (missing/empty root, empty class) or
  /// InvalidOption (no extensions).
  explicit ImageFolder(std::string root, ImageFolderOptions options = {});

  int64_t size() const override { return static_cast<int64_t>(labels_.size()); }
  int64_t label(int64_t i) const override { return labels_[static_cast<size_t>(i)]; }
  std::span<const uint8_t> read(int64_t i, ReadBuffer& scratch) const override;
  std::string path(int64_t i) const override;
  int64_t num_classes() const override { return static_cast<int64_t>(classes_.size()); }
  std::string describe() const override;

  /// Class names; label k is classes()[k].
  const std::vector<std::string>& classes() const { return classes_; }
  /// Path of sample i relative to root ("<class>/<file>").
  std::string_view relative_path(int64_t i) const;
  const std::string& root() const { return root_; }
  /// Wall time the constructor spent indexing.
  double index_seconds() const { return index_seconds_; }

 private:
  std::string root_;
  std::vector<std::string> classes_;
  std::string names_;               // "<class>/<file>" of every sample, back to back
  std::vector<uint64_t> name_end_;  // end offset of sample i's name in names_
  std::vector<int32_t> labels_;
  double index_seconds_ = 0;
};

}  // namespace ferry
