#pragma once
// How the loader's worker processes come to be: the start-method rule, asked
// before every start of a worker, respawns included.
//
//   spawn:  always (the dataset must be rebuildable from its spec()).
//   fork:   while this process runs one thread; refused (InvalidOption naming
//           spawn) once it runs more, since locks other threads hold stay
//           locked forever in a forked child.
//   auto:   fork while single-threaded; else spawn when the dataset can be
//           rebuilt, else fork anyway with a warning (once).
#include <memory>
#include <string>

#include "loader/detail/dataset_ref.h"
#include "loader/options.h"
#include "workers/worker_pool.h"

namespace ferry::detail {

class LaunchPolicy {
 public:
  LaunchPolicy(DatasetRef dataset, const LoaderOptions& options, const Schema& schema, int64_t dataset_size);

  // The pool's choose_launch: the launch for a worker starting now, with the
  // spawn command filled in when it is spawn. Throws InvalidOption when the
  // rule refuses (explicit fork with threads; spawn without a spec or with
  // worker_init; no ferry-worker executable).
  workers::Launch choose(workers::SpawnCommand& spawn);
  // "fork", "spawn", or "fork, then spawn" when respawns changed it.
  std::string method_used() const;

 private:
  DatasetRef dataset_;
  const LoaderOptions& options_;
  const Schema& schema_;
  int64_t dataset_size_;
  bool warned_unsafe_fork_ = false;
  bool forked_ = false;
  bool spawned_ = false;
};

}  // namespace ferry::detail
