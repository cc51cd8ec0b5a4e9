#pragma once
// What the two kinds of Python dataset (map-style and iterable) share: the
// configuration a worker needs, the worker's setup, how a Python error
// becomes an engine error, and the pickled form a spawned worker rebuilds.
#include <pybind11/pybind11.h>

#include <memory>
#include <string>

#include "loader/dataset.h"
#include "loader/iterable_dataset.h"
#include "loader/options.h"
#include "python/src/py_worker.h"
#include "python/src/sample_layout.h"
#include "trace/trace.h"

namespace ferry::python {

// Drops `p` with the GIL held, from whichever thread lets go of it last (the
// engine's threads do not hold it).
template <class T>
std::shared_ptr<T> gil_released(std::shared_ptr<T> p) {
  T* raw = p.get();
  return std::shared_ptr<T>(raw, [keep = std::move(p)](T*) mutable {
    if (!Py_IsInitialized()) {
      new std::shared_ptr<T>(std::move(keep));  // the interpreter is gone: leak rather than crash
      return;
    }
    pybind11::gil_scoped_acquire gil;
    keep.reset();
  });
}

// Everything a worker needs to run the dataset; it travels to spawned
// workers by pickle and is constant after construction.
struct DatasetConfig {
  pybind11::object dataset;
  std::shared_ptr<const SampleLayout> layout;
  pybind11::object worker_init_fn = pybind11::none();
  int num_workers = 0;
  uint64_t seed = 0;
  StartMethod start_method = StartMethod::kAuto;
  bool iterable = false;  // __iter__ streams rather than __getitem__
};

// The DatasetSpec kinds of Python datasets; their args are the pickled config.
inline constexpr const char* kMapSpecKind = "python-map";
inline constexpr const char* kIterableSpecKind = "python-iterable";

// The per-worker part both kinds run. Methods that touch Python take the
// GIL themselves unless they say otherwise.
class PythonDatasetCore {
 public:
  explicit PythonDatasetCore(DatasetConfig config);

  const DatasetConfig& config() const { return c_; }
  const std::string& description() const { return description_; }
  // -1 in the calling thread (num_workers=0).
  int worker_id() const { return worker_id_; }

  // get_worker_info(), PyTorch's seeding and worker_init_fn (none for -1).
  void open_in_worker(int worker_id);
  // The error a Python exception from the dataset becomes (GIL held):
  // ferry.BadSample -> BadSample; KeyboardInterrupt/SystemExit in this
  // process -> PythonInterrupt; anything else -> its type, message and traceback.
  [[noreturn]] void rethrow(pybind11::error_already_set& e) const;
  // The pickled config for a spawned worker, or {} where the loader will fork.
  DatasetSpec spec() const;

  // One sample: takes the GIL, calls `fetch` (a new reference, or null: an
  // error when Python has one set, else there is no sample) within the
  // sample's scope (sample_rng) and the read stage, writes what it returned
  // into `out`. False when there was no sample.
  template <class Fetch>
  bool write_sample(SampleContext& ctx, SampleWriter& out, Fetch fetch) const {
    pybind11::gil_scoped_acquire gil;
    SampleScope scope(ctx);
    try {
      pybind11::object sample;
      {
        // For a Python dataset "read" is all of __getitem__ or the iterator's step.
        trace::ScopedStage read(trace::Stage::kRead);
        sample = pybind11::reinterpret_steal<pybind11::object>(fetch());
      }
      if (!sample) {
        if (PyErr_Occurred()) throw pybind11::error_already_set();
        return false;
      }
      c_.layout->write(sample, ctx, out);
    } catch (pybind11::error_already_set& e) {
      rethrow(e);
    }
    if (worker_id_ >= 0) flush_std_streams();  // a worker ends with _exit()
    return true;
  }

 private:
  std::string payload() const;

  DatasetConfig c_;
  std::string description_;
  pybind11::object bad_sample_;
  int worker_id_ = -1;
  mutable bool warned_unspawnable_ = false;  // touched with the GIL held
};

// Rebuilds a config from spec().args in a spawned worker (GIL held).
DatasetConfig rebuild_config(const std::string& args);

// An iterable Python dataset (config.iterable) as the engine runs it.
std::shared_ptr<IterableDataset> make_py_iterable(DatasetConfig config);

}  // namespace ferry::python
