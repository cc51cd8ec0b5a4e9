#pragma once
/// TarWriter: writes a WebDataset-style ustar shard (for ferry-read-bench and
/// tests). Member names up to 255 bytes (ustar prefix + name); written to a
/// temporary file and renamed into place by finish().
#include <cstdint>
#include <span>
#include <string>

#include "base/unique_fd.h"

namespace ferry::pack {

class TarWriter {
 public:
  explicit TarWriter(std::string path);
  ~TarWriter();
  TarWriter(const TarWriter&) = delete;
  TarWriter& operator=(const TarWriter&) = delete;

  /// Appends a regular file member. Throws InvalidOption for a name that does
  /// not fit ustar, SystemError for I/O.
  void add(const std::string& name, std::span<const uint8_t> bytes);
  void add_text(const std::string& name, const std::string& text);
  /// Writes the end-of-archive blocks and renames into place.
  void finish();

 private:
  void write(const void* data, size_t size);

  std::string path_;
  std::string temp_path_;
  UniqueFd fd_;
  bool finished_ = false;
};

}  // namespace ferry::pack
