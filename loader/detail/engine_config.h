#pragma once
// The numbers the engine runs with, derived from LoaderOptions in one place.
// Lower layers (the worker pool, the device stage) take them as given and
// check them, never re-derive or clamp them.
#include <cstddef>
#include <cstdint>

#include "loader/options.h"

namespace ferry::detail {

struct EngineConfig {
  size_t slot_bytes = 0;           // one batch slot: the layout's bytes, a page multiple
  int slots_per_worker = 0;        // LoaderOptions::slots_per_worker, or prefetch_factor + 1
  size_t outstanding_limit = 0;    // batches in flight or arrived and not yet delivered
  size_t device_buffers = 0;       // device batches: copies in flight + the one the consumer holds + one releasing
  size_t shared_memory_bytes = 0;  // every slot of every worker
};

// `slot_bytes` is the batch layout's size (SlotLayout::bytes()).
EngineConfig resolve_engine(const LoaderOptions& options, size_t slot_bytes);

}  // namespace ferry::detail
