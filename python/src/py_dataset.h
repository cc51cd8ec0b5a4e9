#pragma once
/// Python datasets in ferry's workers.
///
/// Any object with __len__ and __getitem__ (a torch.utils.data.Dataset
/// subclass, Subset, ConcatDataset, a plain class; torch is not needed)
/// becomes a ferry::Dataset whose get() calls dataset[index] with the GIL
/// and writes the sample straight into its place in the batch slot
/// (SampleLayout). An iterable one (__iter__; a torch IterableDataset)
/// becomes a ferry::IterableDataset of one stream per worker, each worker
/// reading its own iter(dataset), as torch's DataLoader runs it (split the
/// data with get_worker_info()). Workers are Python interpreters too:
///
///   fork   the child is a copy of this interpreter, prepared as os.fork()
///          does (PyOS_BeforeFork / AfterFork_Child through the loader's
///          fork hooks); it holds the GIL only while Python runs.
///   spawn  a fresh `python -c "import ferry; ferry._serve_worker()"` gets
///          the pickled dataset, prepares its main module as multiprocessing
///          does, and serves tasks like any spawned worker. Arrays never go
///          through pickle: only the dataset object does, once per worker.
///
/// In each worker, before the first sample: get_worker_info() (id,
/// num_workers, seed, dataset; torch's too when torch is loaded), random,
/// numpy's and torch's global generators seeded from (seed, worker id) as
/// PyTorch does, then worker_init_fn(worker_id). Inside __getitem__,
/// ferry.sample_rng() is a numpy Generator seeded from (seed, epoch, index):
/// the same numbers whatever worker, worker count, respawn or resume.
#include <pybind11/pybind11.h>

#include <memory>

#include "loader/batch.h"
#include "loader/dataset.h"
#include "loader/iterable_dataset.h"
#include "loader/options.h"
#include "python/src/sample_layout.h"

namespace ferry::python {

/// Raised out of a sample produced in the calling thread (num_workers=0)
/// whose __getitem__ raised KeyboardInterrupt or SystemExit. Not a
/// std::exception, so it passes the engine's sample-failure handling; the
/// binding re-raises `error` once the loader is safe.
struct PythonInterrupt {
  std::shared_ptr<pybind11::error_already_set> error;
};

/// The DataLoader arguments only Python datasets take.
struct PythonDatasetArgs {
  pybind11::object schema = pybind11::none();          ///< None: inferred from dataset[0]
  pybind11::object transforms = pybind11::none();      ///< None or {field: "train" | ("train", size)}
  pybind11::object worker_init_fn = pybind11::none();  ///< None or callable(worker_id)
  pybind11::object interpreter = pybind11::none();     ///< spawn: the Python program; None: sys.executable
};

/// A dataset as the loader binding runs it.
struct LoaderInput {
  std::shared_ptr<Dataset> dataset;            ///< what the engine runs (map-style), or
  std::shared_ptr<IterableDataset> iterable;   ///< this (iterable), the other null
  pybind11::object python_dataset;             ///< what DataLoader.dataset returns
  std::shared_ptr<const SampleLayout> layout;  ///< null: batches are {field: tensor} dicts
};

/// Wraps a Python dataset, reading its first sample (dataset[0], or the first
/// of iter(dataset)) unless `args.schema` is given.
/// Sets what its workers need in `options` (fork hooks, the interpreter as
/// the spawn worker program); call it after the other options are set.
LoaderInput python_dataset_input(pybind11::object dataset, const PythonDatasetArgs& args, LoaderOptions& options);

/// What the loader's iterator yields for a batch: the layout's structure,
/// one sample without the batch dimension (batch_size=None), or
/// collate_fn(list of samples) for users who need their own collation.
class BatchConverter {
 public:
  BatchConverter(std::shared_ptr<const SampleLayout> layout, bool unbatched, pybind11::object collate_fn);
  pybind11::object operator()(const Batch& batch) const;

 private:
  std::shared_ptr<const SampleLayout> layout_;  // null: the field dict as is
  bool unbatched_;
  pybind11::object collate_fn_;
};

/// True while a spawned worker imports the main module and unpickles its
/// dataset: a DataLoader with workers made then would spawn without end.
bool in_worker_bootstrap();

/// A layout whose last owner may let go of it without the GIL.
std::shared_ptr<const SampleLayout> released_with_gil(std::shared_ptr<SampleLayout> layout);

/// ferry.get_worker_info, WorkerInfo, sample_rng, sample_seed, infer_schema,
/// _serve_worker; registers the dataset kind spawned workers rebuild.
void bind_python_datasets(pybind11::module_& m);

}  // namespace ferry::python
