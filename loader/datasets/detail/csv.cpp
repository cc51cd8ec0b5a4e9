#include "loader/datasets/detail/csv.h"

#include <cstdint>

#include "base/error.h"
#include "loader/datasets/detail/file_io.h"

namespace ferry::detail {
namespace {

/// Splits one line into fields; returns false for an unterminated quote.
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

}  // namespace

char list_delimiter(const std::string& list_path, char asked) {
  if (asked != 0) return asked;
  return ends_with_ci(list_path, ".tsv") ? '\t' : ',';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::string shown(std::string_view line) {
  std::string s(line.substr(0, 80));
  if (line.size() > 80) s += "...";
  return "'" + s + "'";
}

void read_csv_lines(const std::string& list_path, char delimiter, const std::function<void(const CsvLine&)>& row) {
  std::vector<uint8_t> bytes;
  read_whole_file(list_path, bytes);
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  CsvLine line;
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    const std::string_view raw = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line.number;
    line.text = trim(raw);
    if (line.text.empty() || line.text.front() == '#') continue;
    line.where = list_path + ":" + std::to_string(line.number) + ": ";
    if (!split_fields(line.text, delimiter, line.fields))
      throw DataError(line.where + "unterminated quote in " + shown(line.text));
    row(line);
  }
}

}  // namespace ferry::detail
