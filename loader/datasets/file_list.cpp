#include "loader/datasets/file_list.h"

#include <algorithm>
#include <charconv>
#include <string_view>

#include "base/error.h"
#include "loader/datasets/detail/csv.h"
#include "loader/datasets/detail/file_io.h"

namespace ferry {
namespace {

bool parse_label(std::string_view s, int64_t& out) {
  s = detail::trim(s);
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size() && out >= 0;
}

}  // namespace

FileList::FileList(std::string list_path, FileListOptions options) : list_path_(std::move(list_path)) {
  const char delim = detail::list_delimiter(list_path_, options.delimiter);
  const std::string dir = detail::parent_dir(list_path_);
  const std::string expected = delim == '\t' ? "path<TAB>label" : "path,label";
  bool first = true;
  detail::read_csv_lines(list_path_, delim, [&](const detail::CsvLine& line) {
    const auto& fields = line.fields;
    int64_t label = 0;
    const bool label_ok = fields.size() == 2 && parse_label(fields[1], label);
    if (first) {
      first = false;
      const bool header = options.header == ListHeader::kPresent ||
                          (options.header == ListHeader::kAuto && fields.size() == 2 && !label_ok);
      if (header) return;
    }
    if (fields.size() != 2) {
      throw DataError(line.where + "expected 2 fields (" + expected + "), found " + std::to_string(fields.size()) +
                      " in " + detail::shown(line.text));
    }
    if (!label_ok) throw DataError(line.where + "label '" + fields[1] + "' is not an integer >= 0");
    const std::string_view p = detail::trim(fields[0]);
    if (p.empty()) throw DataError(line.where + "empty path in " + detail::shown(line.text));
    paths_.push_back(detail::join_path(dir, std::string(p)));
    labels_.push_back(label);
    num_classes_ = std::max(num_classes_, label + 1);
  });
  if (paths_.empty())
    throw DataError("FileList: '" + list_path_ + "' lists no samples (expected lines " + expected + ")");
}

std::span<const uint8_t> FileList::read(int64_t i, ReadBuffer& scratch) const {
  return detail::read_whole_file(paths_[static_cast<size_t>(i)], scratch);
}

std::string FileList::describe() const {
  return "FileList(" + list_path_ + ": " + std::to_string(size()) + " files, " + std::to_string(num_classes_) +
         " classes)";
}

}  // namespace ferry
