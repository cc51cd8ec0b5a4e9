#pragma once
/// PackedWriter: writes a `.ferry` file (layout in packed_format.h).
///
///   PackedWriter w("train.ferry", n, class_names);
///   for (...) w.add(bytes, label);   // exactly n times
///   w.finish();                      // index + header, fsync, rename into place
///
/// The file is written under a temporary name in the same folder and renamed
/// over `path` only by finish(), so readers never see a half-written file; a
/// writer destroyed before finish() removes its temporary file.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/unique_fd.h"
#include "loader/datasets/packed_format.h"

namespace ferry {

class PackedWriter {
 public:
  /// Creates the temporary file for `num_records` records. Throws SystemError.
  PackedWriter(std::string path, uint64_t num_records, std::vector<std::string> class_names = {});
  ~PackedWriter();
  PackedWriter(const PackedWriter&) = delete;
  PackedWriter& operator=(const PackedWriter&) = delete;

  /// Appends the next record. Throws InvalidOption past num_records or for a
  /// record over 4 GiB, SystemError when the write fails.
  void add(std::span<const uint8_t> bytes, int64_t label);
  /// Writes index and header, syncs and renames into place. Throws
  /// InvalidOption when fewer than num_records records were added.
  void finish();

  uint64_t records_written() const { return entries_.size(); }
  uint64_t bytes_written() const { return next_offset_; }

 private:
  void write_at(const void* data, size_t size, uint64_t offset);

  std::string path_;
  std::string temp_path_;
  UniqueFd fd_;
  uint64_t num_records_;
  std::string names_;
  std::vector<packed::RecordEntry> entries_;
  uint64_t data_offset_ = 0;
  uint64_t next_offset_ = 0;
  bool finished_ = false;
};

}  // namespace ferry
