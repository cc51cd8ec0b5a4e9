#include "loader/detail/engine_config.h"

#include "workers/shared_segment.h"

namespace ferry::detail {

EngineConfig resolve_engine(const LoaderOptions& options, size_t slot_bytes) {
  EngineConfig c;
  c.slot_bytes = workers::round_up_to_page(slot_bytes == 0 ? 1 : slot_bytes);
  // One slot more than tasks in flight: the batch the consumer holds. With
  // outstanding work bounded by prefetch_factor per worker, a consumer that
  // holds one batch at a time then never forces a one-off segment.
  c.slots_per_worker = options.slots_per_worker > 0 ? options.slots_per_worker : options.prefetch_factor + 1;
  c.outstanding_limit = size_t(options.num_workers) * size_t(options.prefetch_factor);
  c.device_buffers = size_t(options.prefetch_factor) + 2;
  c.shared_memory_bytes = c.slot_bytes * size_t(c.slots_per_worker) * size_t(options.num_workers);
  return c;
}

}  // namespace ferry::detail
