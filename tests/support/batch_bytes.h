#pragma once
// Batches as plain bytes, for comparing runs byte for byte.
#include <cstdint>
#include <vector>

#include "loader/data_loader.h"

namespace ferry::testing {

// Every field's values (and a ragged field's offsets), in schema order.
inline std::vector<uint8_t> batch_bytes(const Batch& b) {
  std::vector<uint8_t> out;
  for (const auto& f : b.fields()) {
    auto* p = static_cast<const uint8_t*>(f.values.data);
    out.insert(out.end(), p, p + f.values.nbytes());
    if (f.ragged) {
      auto* o = static_cast<const uint8_t*>(f.offsets.data);
      out.insert(out.end(), o, o + f.offsets.nbytes());
    }
  }
  return out;
}

// One epoch (the loader's next begin()), batch by batch.
inline std::vector<std::vector<uint8_t>> epoch_bytes(DataLoader& loader) {
  std::vector<std::vector<uint8_t>> out;
  for (auto& b : loader) out.push_back(batch_bytes(b));
  return out;
}

}  // namespace ferry::testing
