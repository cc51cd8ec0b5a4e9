#include "loader/detail/launch_policy.h"

#include <cstdio>

#include "base/error.h"
#include "loader/detail/spawn_payload.h"

namespace ferry::detail {

LaunchPolicy::LaunchPolicy(DatasetRef dataset, const LoaderOptions& options, const Schema& schema, int64_t dataset_size)
    : dataset_(std::move(dataset)), options_(options), schema_(schema), dataset_size_(dataset_size) {}

workers::Launch LaunchPolicy::choose(workers::SpawnCommand& spawn) {
  const int threads = count_threads();
  const DatasetSpec spec = dataset_.spec();
  const bool spawnable = !spec.kind.empty();
  StartMethod method = options_.start_method;
  if (method == StartMethod::kAuto) {
    method = threads > 1 && spawnable ? StartMethod::kSpawn : StartMethod::kFork;
    if (threads > 1 && !spawnable && !warned_unsafe_fork_) {
      warned_unsafe_fork_ = true;
      std::fprintf(stderr,
                   "ferry: warning: forking workers from a process with %d threads, because dataset %s cannot be "
                   "rebuilt in a spawned worker (it has no spec()). Create the loader before starting threads, or "
                   "make the dataset spawnable.\n",
                   threads, dataset_.describe().c_str());
    }
  } else if (method == StartMethod::kFork && threads > 1) {
    throw InvalidOption("ferry: start_method=fork is unsafe here: this process runs " + std::to_string(threads) +
                        " threads, and a forked child keeps only one (locks held by the others stay locked). "
                        "Use start_method=spawn (or auto), or create the loader before starting threads.");
  }
  if (method == StartMethod::kSpawn) {
    if (!spawnable)
      throw InvalidOption("ferry: start_method=spawn needs a dataset that can be rebuilt in a fresh process, but " +
                          dataset_.describe() +
                          " has no spec(). Use open_image_dataset/open_raw_dataset, or implement Dataset::spec() "
                          "and register its kind (dataset_registry.h).");
    if (options_.worker_init)
      throw InvalidOption(
          "ferry: worker_init is a C++ callback of this process and cannot run in a spawned "
          "worker; do that set-up in the dataset's open_in_worker() instead.");
    if (spawn.executable.empty()) {
      spawn.executable = find_worker_executable(options_.worker_executable);
      spawn.args = options_.worker_args;
      spawn.payload = encode_spawn_payload(spec, dataset_.iterable != nullptr, schema_, options_, dataset_size_);
    }
    spawned_ = true;
    return workers::Launch::kSpawn;
  }
  forked_ = true;
  return workers::Launch::kFork;
}

std::string LaunchPolicy::method_used() const {
  if (forked_ && spawned_) return "fork, then spawn";
  if (spawned_) return "spawn";
  if (forked_) return "fork";
  return "in-process";
}

}  // namespace ferry::detail
