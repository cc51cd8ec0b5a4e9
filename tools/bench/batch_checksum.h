#pragma once
/// The determinism checksum of `ferry-bench --checksum`: one 64-bit value
/// over every field of every batch, in delivery order. Two runs with the same
/// data, pipeline, seed and batch size print the same value whatever the
/// number of workers or threads.
///
/// Definition ("FNV-1a-64 over words"), so any tool can recompute it:
///   h = 0xcbf29ce484222325
///   absorb(bytes):  for each 8-byte little-endian word w of `bytes` (the last
///                   one zero-padded): h = (h XOR w) * 0x100000001b3 mod 2^64;
///                   then h = (h XOR len(bytes)) * 0x100000001b3 mod 2^64
///   for each batch in delivery order, for each field in schema order:
///     absorb(the field's values, row-major, native little-endian bytes)
///     if the field is ragged: absorb(its int64 offsets, batch_size + 1 values)
///   printed as 16 lowercase hex digits.
/// An image field is {batch, C, H, W} float32 (train/val) or {batch, H, W, C}
/// uint8 (decode); "label" is int64 {batch}; the read pipeline's "bytes" is
/// ragged uint8.
#include <cstddef>
#include <cstdint>
#include <string>

namespace ferry {
class Batch;
}

namespace ferry::bench {

class BatchChecksum {
 public:
  /// Absorbs one byte string (see the definition above).
  void absorb(const void* data, size_t bytes);
  /// Absorbs every field of `batch` in schema order. Throws std::logic_error
  /// for a non-contiguous field (the loader never produces one).
  void add(const Batch& batch);
  uint64_t value() const { return h_; }
  /// 16 lowercase hex digits.
  std::string hex() const;

 private:
  uint64_t h_ = 0xcbf29ce484222325ull;
};

}  // namespace ferry::bench
