#include "loader/datasets/image_folder.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <set>
#include <utility>

#include "base/error.h"
#include "base/unique_fd.h"
#include "loader/datasets/detail/file_io.h"
#include "loader/datasets/detail/parallel.h"

namespace ferry {
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

enum class Kind { kFile, kDir, kOther };

struct Entry {
  std::string name;
  Kind kind;
};

std::string lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return r;
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

UniqueFd open_dir(int parent, const std::string& name, const std::string& shown) {
  UniqueFd fd(::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw DataError("ImageFolder: cannot open folder '" + shown + "': " + std::strerror(errno));
  return fd;
}

/// Lists one folder with getdents64, resolving symlinks and unknown types with
/// fstatat (which follows links). Hidden names are skipped.
std::vector<Entry> list_dir(int dirfd, const std::string& shown) {
  std::vector<Entry> out;
  alignas(8) static thread_local char buf[64 * 1024];
  for (;;) {
    const long n = ::syscall(SYS_getdents64, dirfd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw DataError("ImageFolder: cannot read folder '" + shown + "': " + std::strerror(errno));
    }
    if (n == 0) break;
    for (long off = 0; off < n;) {
      const auto* d = reinterpret_cast<const LinuxDirent64Head*>(buf + off);
      const char* name = buf + off + kDirentNameOffset;
      off += d->d_reclen;
      if (name[0] == '.') continue;  // ".", ".." and hidden files
      Kind kind = Kind::kOther;
      if (d->d_type == DT_REG) {
        kind = Kind::kFile;
      } else if (d->d_type == DT_DIR) {
        kind = Kind::kDir;
      } else if (d->d_type == DT_LNK || d->d_type == DT_UNKNOWN) {
        struct stat st {};
        if (::fstatat(dirfd, name, &st, 0) == 0) {  // dangling links are skipped
          kind = S_ISREG(st.st_mode) ? Kind::kFile : S_ISDIR(st.st_mode) ? Kind::kDir : Kind::kOther;
        }
      }
      if (kind != Kind::kOther) out.push_back({name, kind});
    }
  }
  return out;
}

struct ClassFiles {
  std::vector<std::string> rel;  // "<sub>/<file>" relative to the class folder
};

/// Walks one class folder recursively in os.walk(followlinks=True) order
/// sorted as torchvision does: by folder path, then by file name. A folder
/// already on the current path (a symlink loop) is not entered again.
void walk_class(int dirfd, const std::string& rel_dir, const std::string& shown, const std::vector<std::string>& exts,
                std::set<std::pair<dev_t, ino_t>>& on_path,
                std::vector<std::pair<std::string, std::vector<std::string>>>& folders) {
  struct stat self {};
  if (::fstat(dirfd, &self) == 0 && !on_path.insert({self.st_dev, self.st_ino}).second) return;
  std::vector<Entry> entries = list_dir(dirfd, shown);
  std::vector<std::string> files;
  for (auto& e : entries) {
    if (e.kind == Kind::kFile && has_extension(e.name, exts)) files.push_back(std::move(e.name));
  }
  std::sort(files.begin(), files.end());
  if (!files.empty()) folders.emplace_back(rel_dir, std::move(files));
  for (auto& e : entries) {
    if (e.kind != Kind::kDir) continue;
    UniqueFd sub = open_dir(dirfd, e.name, shown + "/" + e.name);
    walk_class(sub.get(), rel_dir.empty() ? e.name : rel_dir + "/" + e.name, shown + "/" + e.name, exts, on_path,
               folders);
  }
  on_path.erase({self.st_dev, self.st_ino});
}

ClassFiles index_class(int rootfd, const std::string& cls, const std::string& root,
                       const std::vector<std::string>& exts) {
  const std::string shown = detail::join_path(root, cls);
  UniqueFd fd = open_dir(rootfd, cls, shown);
  std::set<std::pair<dev_t, ino_t>> on_path;
  std::vector<std::pair<std::string, std::vector<std::string>>> folders;
  walk_class(fd.get(), "", shown, exts, on_path, folders);
  std::sort(folders.begin(), folders.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  ClassFiles out;
  for (auto& [dir, files] : folders) {
    for (auto& f : files) out.rel.push_back(dir.empty() ? std::move(f) : dir + "/" + f);
  }
  return out;
}

std::string join_exts(const std::vector<std::string>& exts) {
  std::string s;
  for (const auto& e : exts) s += (s.empty() ? "" : " ") + e;
  return s;
}

}  // namespace

ImageFolder::ImageFolder(std::string root, ImageFolderOptions options) : root_(std::move(root)) {
  const auto t0 = std::chrono::steady_clock::now();
  if (options.extensions.empty()) throw InvalidOption("ImageFolder: the extension list is empty");
  std::vector<std::string> exts;
  for (const auto& e : options.extensions) exts.push_back(lower(e));
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();

  UniqueFd rootfd(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!rootfd) throw DataError("ImageFolder: cannot open root folder '" + root_ + "': " + std::strerror(errno));
  for (auto& e : list_dir(rootfd.get(), root_)) {
    if (e.kind == Kind::kDir) classes_.push_back(std::move(e.name));
  }
  if (classes_.empty()) {
    throw DataError("ImageFolder: no class folders in '" + root_ + "' (expected " + root_ +
                    "/<class>/<image>; hidden folders are ignored)");
  }
  std::sort(classes_.begin(), classes_.end());

  std::vector<ClassFiles> per_class(classes_.size());
  detail::parallel_for_index(classes_.size(), options.index_threads,
                             [&](size_t c) { per_class[c] = index_class(rootfd.get(), classes_[c], root_, exts); });

  size_t total = 0;
  size_t bytes = 0;
  for (size_t c = 0; c < classes_.size(); ++c) {
    if (per_class[c].rel.empty()) {
      throw DataError("ImageFolder: class folder '" + detail::join_path(root_, classes_[c]) +
                      "' has no file with an image extension (" + join_exts(options.extensions) +
                      "); remove it or add images");
    }
    total += per_class[c].rel.size();
    for (const auto& f : per_class[c].rel) bytes += classes_[c].size() + 1 + f.size();
  }
  names_.reserve(bytes);
  name_end_.reserve(total);
  labels_.reserve(total);
  for (size_t c = 0; c < classes_.size(); ++c) {
    for (auto& f : per_class[c].rel) {
      names_ += classes_[c];
      names_ += '/';
      names_ += f;
      name_end_.push_back(names_.size());
      labels_.push_back(static_cast<int32_t>(c));
    }
    ClassFiles().rel.swap(per_class[c].rel);
  }
  index_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string_view ImageFolder::relative_path(int64_t i) const {
  const size_t k = static_cast<size_t>(i);
  const size_t begin = k == 0 ? 0 : name_end_[k - 1];
  return std::string_view(names_).substr(begin, name_end_[k] - begin);
}

std::string ImageFolder::path(int64_t i) const { return detail::join_path(root_, std::string(relative_path(i))); }

std::span<const uint8_t> ImageFolder::read(int64_t i, ReadBuffer& scratch) const {
  // The path is built in a per-thread buffer so a steady state allocates nothing.
  thread_local std::string full;
  full.assign(root_);
  full += '/';
  full += relative_path(i);
  return detail::read_whole_file(full, scratch);
}

std::string ImageFolder::describe() const {
  return "ImageFolder(" + root_ + ": " + std::to_string(classes_.size()) + " classes, " + std::to_string(size()) +
         " files, indexed in " + detail::format_seconds(index_seconds_) + ")";
}

}  // namespace ferry
