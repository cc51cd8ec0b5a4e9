#include "loader/datasets/detail/dir_walk.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <utility>

#include "base/error.h"
#include "base/unique_fd.h"
#include "loader/datasets/detail/file_io.h"

namespace ferry::detail {
namespace {

// The fixed head of the kernel's getdents64 record; the NUL-terminated name
// follows at byte 19 (ISO C++ has no flexible array members).
struct LinuxDirent64Head {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
};
constexpr size_t kDirentNameOffset = 19;

UniqueFd open_dir(int parent, const std::string& name, const std::string& shown) {
  UniqueFd fd(::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw DataError("cannot open folder '" + shown + "': " + std::strerror(errno));
  return fd;
}

/// Walks one folder recursively in os.walk(followlinks=True) order; a folder
/// already on the current path (a symlink loop) is not entered again.
void walk(int dirfd, const std::string& rel_dir, const std::string& shown, const std::vector<std::string>& exts,
          std::set<std::pair<dev_t, ino_t>>& on_path,
          std::vector<std::pair<std::string, std::vector<std::string>>>& folders) {
  struct stat self {};
  if (::fstat(dirfd, &self) == 0 && !on_path.insert({self.st_dev, self.st_ino}).second) return;
  std::vector<DirEntry> entries = list_dir(dirfd, shown);
  std::vector<std::string> files;
  for (auto& e : entries) {
    if (e.kind == EntryKind::kFile && has_extension(e.name, exts)) files.push_back(std::move(e.name));
  }
  std::sort(files.begin(), files.end());
  if (!files.empty()) folders.emplace_back(rel_dir, std::move(files));
  for (auto& e : entries) {
    if (e.kind != EntryKind::kDir) continue;
    UniqueFd sub = open_dir(dirfd, e.name, shown + "/" + e.name);
    walk(sub.get(), rel_dir.empty() ? e.name : rel_dir + "/" + e.name, shown + "/" + e.name, exts, on_path, folders);
  }
  on_path.erase({self.st_dev, self.st_ino});
}

}  // namespace

std::vector<DirEntry> list_dir(int dirfd, const std::string& shown) {
  std::vector<DirEntry> out;
  alignas(8) static thread_local char buf[64 * 1024];
  for (;;) {
    const long n = ::syscall(SYS_getdents64, dirfd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw DataError("cannot read folder '" + shown + "': " + std::strerror(errno));
    }
    if (n == 0) break;
    for (long off = 0; off < n;) {
      const auto* d = reinterpret_cast<const LinuxDirent64Head*>(buf + off);
      const char* name = buf + off + kDirentNameOffset;
      off += d->d_reclen;
      if (name[0] == '.') continue;  // ".", ".." and hidden files
      int kind = -1;
      if (d->d_type == DT_REG) {
        kind = 0;
      } else if (d->d_type == DT_DIR) {
        kind = 1;
      } else if (d->d_type == DT_LNK || d->d_type == DT_UNKNOWN) {
        struct stat st {};
        if (::fstatat(dirfd, name, &st, 0) == 0) {  // dangling links are skipped
          kind = S_ISREG(st.st_mode) ? 0 : S_ISDIR(st.st_mode) ? 1 : -1;
        }
      }
      if (kind >= 0) out.push_back({name, kind == 0 ? EntryKind::kFile : EntryKind::kDir});
    }
  }
  return out;
}

std::vector<std::string> lowered(const std::vector<std::string>& extensions) {
  std::vector<std::string> out;
  for (std::string e : extensions) {
    for (char& c : e)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    out.push_back(std::move(e));
  }
  return out;
}

bool has_extension(std::string_view name, const std::vector<std::string>& lowered_exts) {
  for (const auto& e : lowered_exts) {
    if (name.size() <= e.size()) continue;  // ".jpg" alone is a hidden file, not an image
    bool eq = true;
    for (size_t k = 0; k < e.size() && eq; ++k) {
      char c = name[name.size() - e.size() + k];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      eq = c == e[k];
    }
    if (eq) return true;
  }
  return false;
}

std::vector<std::string> list_files_recursive(int parent_fd, const std::string& name, const std::string& shown,
                                              const std::vector<std::string>& lowered_exts) {
  UniqueFd fd = open_dir(parent_fd, name, shown);
  std::set<std::pair<dev_t, ino_t>> on_path;
  std::vector<std::pair<std::string, std::vector<std::string>>> folders;
  walk(fd.get(), "", shown, lowered_exts, on_path, folders);
  std::sort(folders.begin(), folders.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (auto& [dir, files] : folders) {
    for (auto& f : files) out.push_back(dir.empty() ? std::move(f) : dir + "/" + f);
  }
  return out;
}

}  // namespace ferry::detail
