#pragma once
// A produced batch as the consumer sees it: one tensor view per field over
// the memory the batch was written into (no copy).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "loader/batch.h"
#include "loader/dataset.h"
#include "loader/detail/batch_layout.h"

namespace ferry::detail {

// Throws ferry::Error when `payload` does not describe `schema`'s fields.
Batch assemble_batch(const Schema& schema, std::shared_ptr<void> owner, const std::byte* memory, size_t bytes,
                     const BatchPayload& payload, int64_t index, uint64_t epoch, std::vector<int64_t> sample_indices);

}  // namespace ferry::detail
