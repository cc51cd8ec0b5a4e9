#pragma once
/// The on-disk layout of a `.ferry` packed file (version 1). All integers are
/// little-endian; offsets are from the start of the file.
///
///   offset 0          FileHeader (64 bytes), zero-padded to 4096
///   index_offset      num_records x RecordEntry (24 bytes each)
///   names_offset      class names, each terminated by '\n' (names_bytes in all)
///   data_offset       records, each starting on a multiple of `alignment`
///                     (4096), zero-padded to the next record
///
/// header_crc covers header bytes [0, 60); index_crc covers the index table
/// and the class names (they are adjacent); RecordEntry::crc covers the
/// record's bytes. A reader refuses another magic or version, a header or
/// index whose checksum fails, and any entry that points outside the data
/// area, before it hands out a single record.
#include <bit>
#include <cstdint>

namespace ferry::packed {

static_assert(std::endian::native == std::endian::little, "the .ferry format is little-endian");

inline constexpr char kMagic[8] = {'F', 'E', 'R', 'R', 'Y', 'P', 'K', '\0'};
inline constexpr uint32_t kVersion = 1;
inline constexpr uint32_t kAlignment = 4096;
inline constexpr uint64_t kHeaderBytes = 4096;

struct FileHeader {
  char magic[8];       // "FERRYPK\0"
  uint32_t version;    // kVersion
  uint32_t alignment;  // record alignment, a power of two >= 512
  uint64_t num_records;
  uint64_t index_offset;  // kHeaderBytes
  uint64_t names_offset;  // index_offset + 24 * num_records
  uint64_t names_bytes;
  uint64_t data_offset;  // first record; a multiple of alignment
  uint32_t index_crc;    // CRC32C of [index_offset, names_offset + names_bytes)
  uint32_t header_crc;   // CRC32C of bytes [0, 60) of this header
};
static_assert(sizeof(FileHeader) == 64);

struct RecordEntry {
  uint64_t offset;  // of the record's first byte; a multiple of alignment, >= data_offset
  uint32_t length;  // bytes
  uint32_t crc;     // CRC32C of the record's bytes
  int64_t label;    // class index, or -1
};
static_assert(sizeof(RecordEntry) == 24);

}  // namespace ferry::packed
