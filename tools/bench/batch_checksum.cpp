#include "tools/bench/batch_checksum.h"

#include <bit>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "loader/batch.h"

namespace ferry::bench {
namespace {

constexpr uint64_t kPrime = 0x100000001b3ull;

static_assert(std::endian::native == std::endian::little, "the checksum reads words as little-endian");

void check_contiguous(const TensorView& t, const std::string& name) {
  int64_t expected = 1;
  for (size_t d = t.shape.size(); d-- > 0;) {
    if (t.shape[d] > 1 && d < t.strides.size() && t.strides[d] != expected)
      throw std::logic_error("ferry-bench: field '" + name + "' is not contiguous; the checksum needs row-major data");
    expected *= t.shape[d];
  }
}

}  // namespace

void BatchChecksum::absorb(const void* data, size_t bytes) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t h = h_;
  size_t i = 0;
  for (; i + 8 <= bytes; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * kPrime;
  }
  if (i < bytes) {
    uint64_t w = 0;
    std::memcpy(&w, p + i, bytes - i);
    h = (h ^ w) * kPrime;
  }
  h_ = (h ^ static_cast<uint64_t>(bytes)) * kPrime;
}

void BatchChecksum::add(const Batch& batch) {
  for (const BatchField& f : batch.fields()) {
    check_contiguous(f.values, f.name);
    absorb(f.values.data, f.values.nbytes());
    if (f.ragged) absorb(f.offsets.data, f.offsets.nbytes());
  }
}

std::string BatchChecksum::hex() const {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h_));
  return buf;
}

}  // namespace ferry::bench
