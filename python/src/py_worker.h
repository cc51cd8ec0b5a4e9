#pragma once
/// What a Python interpreter serving as a ferry worker needs around the
/// dataset itself: the per-sample generator, the per-worker state PyTorch
/// users expect, fork preparation, and Python errors as message text.
/// Everything here runs with the GIL held unless it says otherwise.
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>

#include "loader/dataset.h"
#include "workers/fork_hooks.h"

namespace ferry::python {

/// The sample this thread is producing, for ferry.sample_rng() and
/// ferry.sample_seed(). Scopes nest, innermost first.
class SampleScope {
 public:
  explicit SampleScope(const SampleContext& ctx);
  ~SampleScope();
  SampleScope(const SampleScope&) = delete;
  SampleScope& operator=(const SampleScope&) = delete;

  /// The innermost scope of this thread, or null outside __getitem__.
  static SampleScope* current();
  /// Derived from the sample's engine generator without drawing from it, so
  /// a native transform of the same sample sees the numbers it always does.
  uint64_t seed() const { return seed_; }
  /// numpy.random.Generator(PCG64(seed())), made on first use.
  pybind11::object generator();

 private:
  uint64_t seed_;
  pybind11::object generator_;
  SampleScope* outer_;
};

/// Worker `worker_id` of `num_workers` starts: sets get_worker_info() (and
/// torch's, when torch is loaded) and seeds random, numpy's global generator
/// and torch's (when torch is loaded) from `worker_seed`, and gives torch
/// one intra-op thread, as PyTorch's workers do.
void enter_worker(int worker_id, int num_workers, uint64_t worker_seed, pybind11::handle dataset);

/// Callbacks that prepare this interpreter around a fork as os.fork() does:
/// the GIL and PyOS_BeforeFork before, PyOS_AfterFork_Parent/_Child after;
/// the child then holds the GIL only while it runs Python.
workers::ForkHooks python_fork_hooks();

/// Flushes sys.stdout and sys.stderr, ignoring errors: a worker ends with
/// _exit(), which would drop what print() left in their buffers.
void flush_std_streams();

/// The class name of `value`, for messages ("ndarray", "MyDataset").
std::string python_type_name(pybind11::handle value);

/// "ValueError: message" for the error, with its module for non-builtins.
std::string python_error_line(pybind11::error_already_set& e);
/// python_error_line, then the traceback as Python prints it (its most recent
/// part when long), for messages that cross to the main process.
std::string python_error_report(pybind11::error_already_set& e);

/// What a spawned interpreter needs to import what this one has: sys.path,
/// sys.argv, the working directory and the main module, in the form
/// multiprocessing.spawn.prepare() takes.
pybind11::dict spawn_preparation();
/// False when a fresh interpreter cannot import `obj`'s class or function:
/// it lives in a __main__ that has no file (an interactive session).
bool importable_elsewhere(pybind11::handle obj);

/// ferry.WorkerInfo, get_worker_info, sample_rng, sample_seed.
void bind_worker_api(pybind11::module_& m);

}  // namespace ferry::python
