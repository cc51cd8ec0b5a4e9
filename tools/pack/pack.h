#pragma once
/// The library behind the ferry-pack tool: copies any SampleSource into a
/// `.ferry` packed file (loader/datasets/packed_format.h), keeping each
/// sample's original bytes, or re-encoding JPEGs to a maximum side length.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "loader/datasets/sample_source.h"

namespace ferry::pack {

struct PackOptions {
  int max_side = 0;           ///< > 0: re-encode images whose longer side exceeds this (aspect kept)
  int quality = 90;           ///< JPEG quality (1..100) for re-encoded images
  bool reencode_all = false;  ///< re-encode even images already within max_side (e.g. to change quality)
};

struct PackStats {
  uint64_t records = 0;
  uint64_t input_bytes = 0;   ///< sum of the source's sample sizes
  uint64_t output_bytes = 0;  ///< size of the written file
  uint64_t reencoded = 0;     ///< samples that were re-encoded
  double seconds = 0;
};

/// Called after each record with (records done, records in total, input bytes so far).
using Progress = std::function<void(uint64_t done, uint64_t total, uint64_t bytes)>;

/// Writes `source` to `out_path` atomically (temporary file + rename).
/// Throws DataError for unreadable samples (naming the sample's path),
/// BadSample for a JPEG that cannot be re-encoded, SystemError for I/O.
PackStats pack(const SampleSource& source, const std::string& out_path, const PackOptions& options = {},
               const Progress& progress = {});

/// Decodes `jpeg`, shrinks it (area filter) so its longer side is at most
/// `max_side`, and encodes it at `quality` (4:2:0). Images already within
/// max_side are returned unchanged unless `always`. Throws BadSample.
std::vector<uint8_t> reencode_jpeg(std::span<const uint8_t> jpeg, int max_side, int quality, bool always = false);

/// Validates options; throws InvalidOption.
void validate(const PackOptions& options);

}  // namespace ferry::pack
