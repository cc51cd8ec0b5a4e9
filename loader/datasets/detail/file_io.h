#pragma once
/// Small POSIX file helpers shared by the sources (internal).
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "loader/datasets/sample_source.h"

namespace ferry::detail {

/// Reads the whole regular file at `path` into `out` (resized, capacity
/// reused). Throws DataError naming the path on any failure.
template <class Buffer>
std::span<const uint8_t> read_whole_file(const std::string& path, Buffer& out);

/// pread() until `size` bytes at `offset` are in `dst`; throws DataError
/// naming `what` when the file ends early or the read fails.
void pread_exact(int fd, void* dst, size_t size, uint64_t offset, const std::string& what);

/// True when `s` ends with the lower-case `suffix`, compared case-insensitively (".TSV" ends with ".tsv").
bool ends_with_ci(std::string_view s, std::string_view suffix);

/// "1.23 s", "850 ms" for reports.
std::string format_seconds(double seconds);

/// The folder part of `path` ("." when none), and path joining.
std::string parent_dir(const std::string& path);
std::string join_path(const std::string& dir, const std::string& name);

}  // namespace ferry::detail
