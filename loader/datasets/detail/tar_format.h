#pragma once
/// ustar/pax/GNU header parsing shared by TarShards (index) and
/// TarShardStream (sequential reads). Internal.
#include <cstdint>
#include <string>
#include <string_view>

namespace ferry::detail {

inline constexpr uint64_t kTarBlock = 512;

struct TarHeader {
  std::string name;  // prefix/name from the header itself
  uint64_t size = 0;
  char type = '0';
};

/// Parses the 512-byte header at `offset` of `shard`. Returns false for an
/// all-zero block (end of archive). Throws DataError (shard + offset) for a
/// bad checksum or size field.
bool parse_tar_header(const uint8_t* block, uint64_t offset, const std::string& shard, TarHeader& out);

/// True for regular-file members ('0', '\0', '7').
inline bool is_regular_member(char type) { return type == '0' || type == '\0' || type == '7'; }

/// GNU 'L' (long name) and pax 'x' (extended) headers describe the member
/// that follows them; this carries what they said to that member.
struct TarExtension {
  std::string name;            // "" = none
  uint64_t size = UINT64_MAX;  // UINT64_MAX = none
  static bool is_extension(char type) { return type == 'L' || type == 'x'; }
  /// Records what an 'L' or 'x' member with data `data` says; throws DataError for a bad pax size.
  void absorb(char type, std::string_view data, uint64_t offset, const std::string& shard);
  /// Applies it to the next real member's header (name and size), then forgets it.
  void apply_to(TarHeader& h);
};

/// The largest 'L'/'x' member accepted (a larger one is a corrupt archive).
inline constexpr uint64_t kMaxTarExtension = 1u << 20;

/// Value of `key` in a pax extended header ("LEN key=value\n" records).
bool pax_value(std::string_view pax, std::string_view key, std::string& out);

/// Splits "dir/000123.seg.jpg" into key "dir/000123" and extension "seg.jpg"
/// (WebDataset's rule: up to the first '.' of the file name). False without a dot.
bool split_key(std::string_view name, std::string_view& key, std::string_view& ext);

/// ASCII lower case.
std::string lower_ascii(std::string_view s);

/// Parses a `.cls` member's text ("17\n") into a label >= 0; throws DataError naming `where`.
int64_t parse_label_text(std::string_view text, const std::string& where);

}  // namespace ferry::detail
