#pragma once
/// CRC32C (Castagnoli, the iSCSI/ext4 checksum) of a byte range.
///
/// Uses the SSE4.2 `crc32` instruction when the CPU has it (checked once at
/// run time), slicing-by-8 tables otherwise; both give the same value.
///   crc32c("123456789") == 0xE3069283
#include <cstddef>
#include <cstdint>

namespace ferry {

/// CRC32C of `size` bytes at `data`, continuing from `crc` (0 to start).
/// crc32c(b, crc32c(a)) == crc32c(a followed by b).
uint32_t crc32c(const void* data, size_t size, uint32_t crc = 0);

namespace detail {
/// The portable table-driven implementation (exposed for tests).
uint32_t crc32c_portable(const void* data, size_t size, uint32_t crc);
/// True when crc32c() uses the SSE4.2 instruction on this CPU.
bool crc32c_hardware();
}  // namespace detail

}  // namespace ferry
