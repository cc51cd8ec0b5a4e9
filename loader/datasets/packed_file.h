#pragma once
/// PackedFile: reads a `.ferry` file (layout in packed_format.h) through one
/// read-only mmap. read() returns a span into the mapping (no copy) after
/// checking the record's CRC32C, unless verification is turned off.
///
/// Opening validates the header (magic, version, checksums) and every index
/// entry, so a file of another version, a truncated file or a damaged index is
/// a DataError at open, never a crash later. A record whose bytes no longer
/// match its CRC is a DataError naming the file and record
/// ("train.ferry#record 17: CRC32C mismatch ...").
#include <cstdint>
#include <string>
#include <vector>

#include "loader/datasets/packed_format.h"
#include "loader/datasets/sample_source.h"

namespace ferry {

enum class Verify {
  kCrc32c,  ///< check every record's CRC32C on every read (default; ~10 GB/s with SSE4.2)
  kNone,    ///< trust the bytes
};

/// madvise() hint for the record area.
enum class AccessHint {
  kNormal,      ///< kernel default readahead
  kRandom,      ///< MADV_RANDOM: no readahead (random reads of a cold file on disk)
  kSequential,  ///< MADV_SEQUENTIAL: aggressive readahead (scans)
  kWillNeed,    ///< MADV_WILLNEED on the whole file at open (prefetch it into the page cache)
};

struct PackedFileOptions {
  Verify verify = Verify::kCrc32c;          ///< per-record checksum policy
  AccessHint access = AccessHint::kNormal;  ///< hint for the whole record area
};

class PackedFile final : public SampleSource {
 public:
  explicit PackedFile(std::string path, PackedFileOptions options = {});
  ~PackedFile() override;
  PackedFile(const PackedFile&) = delete;
  PackedFile& operator=(const PackedFile&) = delete;

  int64_t size() const override { return static_cast<int64_t>(num_records_); }
  int64_t label(int64_t i) const override { return entry(i).label; }
  /// A span into the mapping; `scratch` is not used.
  std::span<const uint8_t> read(int64_t i, ReadBuffer& scratch) const override;
  std::string path(int64_t i) const override { return path_ + "#record " + std::to_string(i); }
  int64_t num_classes() const override { return num_classes_; }
  std::string describe() const override;

  /// Class names stored by ferry-pack (empty when none were stored).
  const std::vector<std::string>& classes() const { return classes_; }
  const packed::RecordEntry& entry(int64_t i) const { return index_[static_cast<size_t>(i)]; }
  /// Checks every record's CRC32C; throws DataError at the first mismatch.
  void verify_all() const;

 private:
  std::string path_;
  PackedFileOptions options_;
  const uint8_t* map_ = nullptr;
  size_t map_bytes_ = 0;
  const packed::RecordEntry* index_ = nullptr;
  uint64_t num_records_ = 0;
  int64_t num_classes_ = 0;
  std::vector<std::string> classes_;
};

}  // namespace ferry
