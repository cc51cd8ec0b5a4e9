#pragma once
/// How the loader words a bad sample in LoaderStats::bad_sample_messages and
/// in errors: "sample <index>: <what the dataset said>", e.g.
///   "sample 17: /data/train/n01/x.jpg: JPEG decode failed: Not a JPEG file"
/// One owner of the layout, so a reader of the messages (ferry-bench's list
/// of bad samples) finds the index without guessing.
#include <cstdint>
#include <string>
#include <string_view>

namespace ferry {

std::string bad_sample_message(int64_t index, std::string_view what);

/// The index and the dataset's part of a bad_sample_message(); index -1 and
/// the whole text for anything else.
struct BadSampleText {
  int64_t index = -1;
  std::string what;
};
BadSampleText parse_bad_sample_message(std::string_view message);

}  // namespace ferry
