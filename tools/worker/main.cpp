// The worker process of the spawn start method: ferry's DataLoader starts it,
// sends it the pipeline, and it serves batches until told to stop.
#include "loader/dataset_registry.h"
#include "loader/detail/spawn_payload.h"
#include "workers/spawned_worker.h"

int main(int argc, char** argv) {
  ferry::register_builtin_datasets();
  return ferry::workers::serve_spawned_worker(argc, argv, ferry::detail::make_spawned_producer);
}
