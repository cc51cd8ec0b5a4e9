#pragma once
/// Folder listing for the folder-based sources (internal): getdents64 in
/// 64 KiB batches, symlinks followed, hidden names skipped, and recursive walks
/// in torchvision's order.
#include <string>
#include <string_view>
#include <vector>

namespace ferry::detail {

enum class EntryKind { kFile, kDir };

struct DirEntry {
  std::string name;
  EntryKind kind;
};

/// The files and folders of the open folder `dirfd` (in the kernel's order).
/// Names starting with '.' are skipped; symlinks are resolved (dangling ones
/// skipped). Throws DataError naming `shown` when the folder cannot be read.
std::vector<DirEntry> list_dir(int dirfd, const std::string& shown);

/// Extensions lower-cased, for has_extension().
std::vector<std::string> lowered(const std::vector<std::string>& extensions);

/// True when `name` ends in one of `lowered_exts` (case-insensitive) and is more than the extension.
bool has_extension(std::string_view name, const std::vector<std::string>& lowered_exts);

/// Every file under the folder `name` of `parent_fd` (recursively, like
/// os.walk(followlinks=True), a symlink loop entered once) whose name has one
/// of `lowered_exts`, as paths relative to that folder ("sub/file.jpg"),
/// sorted by (folder, file name) as torchvision sorts them. `shown` names the
/// folder in errors (DataError).
std::vector<std::string> list_files_recursive(int parent_fd, const std::string& name, const std::string& shown,
                                              const std::vector<std::string>& lowered_exts);

}  // namespace ferry::detail
