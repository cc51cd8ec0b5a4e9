#include "loader/datasets/open_source.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "base/error.h"
#include "loader/datasets/detail/file_io.h"

namespace ferry {
namespace {

constexpr const char* kForms =
    "accepted: a folder (ImageFolder root/<class>/<image>), a .csv/.tsv file list (path,label), a .tar shard or a "
    "brace pattern such as train-{000000..000099}.tar (WebDataset), or a .ferry packed file (ferry-pack)";

}  // namespace

std::shared_ptr<SampleSource> open_source(const std::string& spec, const SourceOptions& options) {
  if (spec.empty()) throw DataError(std::string("open_source: empty dataset path; ") + kForms);
  if (spec.find('{') != std::string::npos) return std::make_shared<TarShards>(spec, options.tar_shards);
  struct stat st {};
  if (::stat(spec.c_str(), &st) != 0) {
    throw DataError("open_source: '" + spec + "': " + std::strerror(errno) + "; " + kForms);
  }
  if (S_ISDIR(st.st_mode)) return std::make_shared<ImageFolder>(spec, options.image_folder);
  if (detail::ends_with_ci(spec, ".ferry")) return std::make_shared<PackedFile>(spec, options.packed);
  if (detail::ends_with_ci(spec, ".tar")) return std::make_shared<TarShards>(spec, options.tar_shards);
  if (detail::ends_with_ci(spec, ".csv") || detail::ends_with_ci(spec, ".tsv")) {
    return std::make_shared<FileList>(spec, options.file_list);
  }
  throw DataError("open_source: '" + spec + "' is not a dataset ferry recognises; " + kForms);
}

}  // namespace ferry
