#include "loader/datasets/image_folder.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "base/error.h"
#include "base/unique_fd.h"
#include "loader/datasets/detail/dir_walk.h"
#include "loader/datasets/detail/file_io.h"
#include "loader/datasets/detail/parallel.h"

namespace ferry {
namespace {

std::string join_exts(const std::vector<std::string>& exts) {
  std::string s;
  for (const auto& e : exts) s += (s.empty() ? "" : " ") + e;
  return s;
}

}  // namespace

ImageFolder::ImageFolder(std::string root, ImageFolderOptions options) : root_(std::move(root)) {
  const auto t0 = std::chrono::steady_clock::now();
  if (options.extensions.empty()) throw InvalidOption("ImageFolder: the extension list is empty");
  const std::vector<std::string> exts = detail::lowered(options.extensions);
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();

  UniqueFd rootfd(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!rootfd) throw DataError("ImageFolder: cannot open root folder '" + root_ + "': " + std::strerror(errno));
  for (auto& e : detail::list_dir(rootfd.get(), root_)) {
    if (e.kind == detail::EntryKind::kDir) classes_.push_back(std::move(e.name));
  }
  if (classes_.empty()) {
    throw DataError("ImageFolder: no class folders in '" + root_ + "' (expected " + root_ +
                    "/<class>/<image>; hidden folders are ignored)");
  }
  std::sort(classes_.begin(), classes_.end());

  std::vector<std::vector<std::string>> per_class(classes_.size());
  detail::parallel_for_index(classes_.size(), options.index_threads, [&](size_t c) {
    per_class[c] = detail::list_files_recursive(rootfd.get(), classes_[c], detail::join_path(root_, classes_[c]), exts);
  });

  size_t total = 0;
  size_t bytes = 0;
  for (size_t c = 0; c < classes_.size(); ++c) {
    if (per_class[c].empty()) {
      throw DataError("ImageFolder: class folder '" + detail::join_path(root_, classes_[c]) +
                      "' has no file with an image extension (" + join_exts(options.extensions) +
                      "); remove it or add images");
    }
    total += per_class[c].size();
    for (const auto& f : per_class[c]) bytes += classes_[c].size() + 1 + f.size();
  }
  names_.reserve(bytes);
  name_end_.reserve(total);
  labels_.reserve(total);
  for (size_t c = 0; c < classes_.size(); ++c) {
    for (auto& f : per_class[c]) {
      names_ += classes_[c];
      names_ += '/';
      names_ += f;
      name_end_.push_back(names_.size());
      labels_.push_back(static_cast<int32_t>(c));
    }
    std::vector<std::string>().swap(per_class[c]);
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
