#pragma once
/// open_source(): a SampleSource from one string, the way a command line or
/// config names a dataset.
///
///   /data/train                 a folder                    -> ImageFolder
///   /data/train.csv, .tsv       a file list                 -> FileList
///   /data/shard-000007.tar      one tar shard               -> TarShards
///   /data/train-{000..099}.tar  a brace pattern of shards   -> TarShards
///   /data/train.ferry           a packed file               -> PackedFile
#include <memory>
#include <string>

#include "loader/datasets/file_list.h"
#include "loader/datasets/image_folder.h"
#include "loader/datasets/packed_file.h"
#include "loader/datasets/sample_source.h"
#include "loader/datasets/tar_shards.h"

namespace ferry {

/// Options for whichever source open_source() picks.
struct SourceOptions {
  ImageFolderOptions image_folder;  ///< for a folder
  FileListOptions file_list;        ///< for .csv/.tsv
  TarShardsOptions tar_shards;      ///< for .tar and brace patterns
  PackedFileOptions packed;         ///< for .ferry
};

/// Throws DataError for a path that does not exist or is none of the forms
/// above (the message lists them), or whatever the chosen source throws.
std::shared_ptr<SampleSource> open_source(const std::string& spec, const SourceOptions& options = {});

}  // namespace ferry
