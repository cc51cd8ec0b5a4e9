#pragma once
/// Where encoded samples (JPEG bytes plus a class label) come from.
///
/// A SampleSource is an indexed, read-only collection: sample i has a label,
/// a path for messages and its encoded bytes. The implementations are
///
///   ImageFolder   root/<class>/<file>, torchvision semantics   (image_folder.h)
///   FileList      a CSV/TSV of `path,label`                    (file_list.h)
///   TarShards     WebDataset .tar shards, brace patterns       (tar_shards.h)
///   PackedFile    ferry's own .ferry record file (mmap, CRC32C) (packed_file.h)
///
/// and open_source() (open_source.h) picks one from a string. Datasets for the
/// loader wrap a source: ImageDataset decodes, RawBytesDataset passes bytes.
///
/// Thread safety: every const member may be called concurrently; read() keeps
/// its state in the caller's scratch buffer. A source opened before fork()
/// stays valid in the child (positional reads only, no shared file offsets).
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace ferry {

class SampleSource {
 public:
  virtual ~SampleSource() = default;

  /// Number of samples.
  virtual int64_t size() const = 0;
  /// Class label of sample i (>= 0), or -1 when the source has none for it.
  virtual int64_t label(int64_t i) const = 0;
  /// The encoded bytes of sample i. They live either in `scratch` (resized to
  /// fit, capacity reused, so a steady state allocates nothing) or in memory
  /// the source owns (a mapping); valid until the next read into `scratch`
  /// and while the source lives. Throws DataError (naming path(i)) when the
  /// bytes cannot be read or fail their checksum.
  virtual std::span<const uint8_t> read(int64_t i, std::vector<uint8_t>& scratch) const = 0;
  /// Where sample i lives, for messages: "/data/train/cat/1.jpg",
  /// "shard-000003.tar:000123.jpg" or "train.ferry#record 17".
  virtual std::string path(int64_t i) const = 0;
  /// 1 + the largest label (0 when there are no labels).
  virtual int64_t num_classes() const = 0;
  /// One line for reports, e.g. "ImageFolder(/data/train: 1000 classes, 1281167 files, indexed in 2.1 s)".
  virtual std::string describe() const = 0;
};

}  // namespace ferry
