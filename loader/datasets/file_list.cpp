#include "loader/datasets/file_list.h"

#include <algorithm>
#include <charconv>
#include <string_view>

#include "base/error.h"
#include "loader/datasets/detail/file_io.h"

namespace ferry {
namespace {

bool ends_with_ci(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  for (size_t k = 0; k < suffix.size(); ++k) {
    char c = s[s.size() - suffix.size() + k];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != suffix[k]) return false;
  }
  return true;
}

/// Splits one line into fields; CSV quoting ("a,b" and "" for a quote) is
/// honoured. Returns false for an unterminated quote.
bool split_fields(std::string_view line, char delim, std::vector<std::string>& fields) {
  fields.clear();
  std::string cur;
  bool quoted = false;
  bool was_quoted = false;
  for (size_t k = 0; k < line.size(); ++k) {
    const char c = line[k];
    if (quoted) {
      if (c == '"' && k + 1 < line.size() && line[k + 1] == '"') {
        cur += '"';
        ++k;
      } else if (c == '"') {
        quoted = false;
      } else {
        cur += c;
      }
    } else if (c == '"' && cur.empty() && !was_quoted) {
      quoted = was_quoted = true;
    } else if (c == delim) {
      fields.push_back(std::move(cur));
      cur.clear();
      was_quoted = false;
    } else {
      cur += c;
    }
  }
  if (quoted) return false;
  fields.push_back(std::move(cur));
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool parse_label(std::string_view s, int64_t& out) {
  s = trim(s);
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size() && out >= 0;
}

std::string shown(std::string_view line) {
  std::string s(line.substr(0, 80));
  if (line.size() > 80) s += "...";
  return "'" + s + "'";
}

}  // namespace

FileList::FileList(std::string list_path, FileListOptions options) : list_path_(std::move(list_path)) {
  std::vector<uint8_t> bytes;
  detail::read_whole_file(list_path_, bytes);
  const char delim = options.delimiter != 0 ? options.delimiter : ends_with_ci(list_path_, ".tsv") ? '\t' : ',';
  const std::string dir = detail::parent_dir(list_path_);
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  const std::string expected = delim == '\t' ? "path<TAB>label" : "path,label";

  std::vector<std::string> fields;
  bool first = true;
  size_t line_no = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    const std::string_view raw = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    const std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#') continue;
    const std::string where = list_path_ + ":" + std::to_string(line_no) + ": ";
    if (!split_fields(line, delim, fields)) throw DataError(where + "unterminated quote in " + shown(line));
    int64_t label = 0;
    const bool label_ok = fields.size() == 2 && parse_label(fields[1], label);
    if (first) {
      first = false;
      const bool header = options.header == ListHeader::kPresent ||
                          (options.header == ListHeader::kAuto && fields.size() == 2 && !label_ok);
      if (header) continue;
    }
    if (fields.size() != 2) {
      throw DataError(where + "expected 2 fields (" + expected + "), found " + std::to_string(fields.size()) + " in " +
                      shown(line));
    }
    if (!label_ok) throw DataError(where + "label '" + fields[1] + "' is not an integer >= 0");
    const std::string_view p = trim(fields[0]);
    if (p.empty()) throw DataError(where + "empty path in " + shown(line));
    paths_.push_back(detail::join_path(dir, std::string(p)));
    labels_.push_back(label);
    num_classes_ = std::max(num_classes_, label + 1);
  }
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
