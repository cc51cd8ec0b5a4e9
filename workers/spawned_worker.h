#pragma once
/// The main() of a spawned worker executable (StartMethod spawn): it receives
/// its channel as fd 3, then a Setup message carrying the arena fd and the
/// payload from which `factory` rebuilds the Producer, and serves tasks like a
/// forked worker. Nothing of the parent's state (threads, locks, CUDA) comes
/// along, which is why spawn is safe where fork is not.
#include <functional>
#include <memory>
#include <span>

#include "workers/producer.h"

namespace ferry::workers {

using ProducerFactory = std::function<std::shared_ptr<Producer>(std::span<const std::byte> payload)>;

/// Returns only on a usage or setup error (with an exit status for main);
/// otherwise the process ends inside, when the pool shuts it down.
int serve_spawned_worker(int argc, char** argv, const ProducerFactory& factory);

}  // namespace ferry::workers
