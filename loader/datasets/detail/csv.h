#pragma once
/// The CSV/TSV reading shared by the list sources (internal): lines, comments,
/// quoting, and the messages that name the list and the line.
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::detail {

/// One line of a list that is neither blank nor a '#' comment.
struct CsvLine {
  size_t number = 0;                ///< 1-based line number
  std::string_view text;            ///< the line, trimmed
  std::vector<std::string> fields;  ///< split at the delimiter; "a,b" quoting and "" for a quote honoured
  std::string where;                ///< "<list>:<number>: ", the start of every message about this line
};

/// '\t' for a .tsv list, ',' otherwise, unless `asked` (non-zero) says which.
char list_delimiter(const std::string& list_path, char asked);

/// Reads `list_path` and calls `row` for each of its lines that is not blank or
/// a comment. Throws DataError for an unreadable list or an unterminated quote
/// (naming the list and the line); `row` may throw its own.
void read_csv_lines(const std::string& list_path, char delimiter, const std::function<void(const CsvLine&)>& row);

/// `s` without surrounding spaces, tabs and carriage returns.
std::string_view trim(std::string_view s);

/// A line as messages show it: quoted, cut after 80 characters.
std::string shown(std::string_view line);

}  // namespace ferry::detail
