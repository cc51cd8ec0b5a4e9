#pragma once
/// FileList: samples named by a CSV or TSV file of `path,label` lines.
///
///   # comment lines and blank lines are skipped
///   path,label                 <- optional header (see FileListOptions::header)
///   cat/001.jpg,0              <- relative to the list's own folder
///   /data/dogs/002.jpg,1       <- or absolute
///   "a,b.jpg",2                <- CSV fields may be double-quoted ("" = a quote)
///
/// The delimiter is a tab for `.tsv` files and a comma otherwise. Labels are
/// integers >= 0. A malformed line is a DataError naming the list and the line
/// number ("train.csv:17: ..."). Files are not touched until they are read.
#include <cstdint>
#include <string>
#include <vector>

#include "loader/datasets/sample_source.h"

namespace ferry {

enum class ListHeader {
  kAuto,     ///< the first line is a header when its label field is not a number
  kPresent,  ///< the first line is a header
  kAbsent,   ///< every line is a sample
};

struct FileListOptions {
  ListHeader header = ListHeader::kAuto;  ///< whether the first line names the columns
  char delimiter = 0;                     ///< 0 = by extension: '\t' for .tsv, ',' otherwise
};

class FileList final : public SampleSource {
 public:
  /// Parses `list_path`. Throws DataError for an unreadable, empty or malformed list.
  explicit FileList(std::string list_path, FileListOptions options = {});

  int64_t size() const override { return static_cast<int64_t>(labels_.size()); }
  int64_t label(int64_t i) const override { return labels_[static_cast<size_t>(i)]; }
  std::span<const uint8_t> read(int64_t i, ReadBuffer& scratch) const override;
  std::string path(int64_t i) const override { return paths_[static_cast<size_t>(i)]; }
  int64_t num_classes() const override { return num_classes_; }
  std::string describe() const override;

 private:
  std::string list_path_;
  std::vector<std::string> paths_;  // resolved: absolute, or relative to the working directory
  std::vector<int64_t> labels_;
  int64_t num_classes_ = 0;
};

}  // namespace ferry
