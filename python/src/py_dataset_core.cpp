#include "python/src/py_dataset_core.h"

#include <pybind11/stl.h>

#include <stdexcept>

#include "base/error.h"
#include "loader/builtin_datasets.h"
#include "loader/detail/batch_filler.h"
#include "loader/detail/spawn_payload.h"
#include "python/src/py_dataset.h"
#include "python/src/py_worker.h"

namespace py = pybind11;

namespace ferry::python {

PythonDatasetCore::PythonDatasetCore(DatasetConfig config) : c_(std::move(config)) {
  description_ =
      std::string(c_.iterable ? "Python iterable dataset " : "Python dataset ") + python_type_name(c_.dataset);
  bad_sample_ = py::module_::import("ferry").attr("BadSample");
}

void PythonDatasetCore::rethrow(py::error_already_set& e) const {
  if (e.matches(bad_sample_)) throw BadSample(py::str(e.value()).cast<std::string>());
  if (!e.matches(PyExc_Exception) && worker_id_ < 0)  // KeyboardInterrupt, SystemExit in this process
    throw PythonInterrupt{std::make_shared<py::error_already_set>(std::move(e))};
  throw std::runtime_error(python_error_report(e));
}

void PythonDatasetCore::open_in_worker(int worker_id) {
  worker_id_ = worker_id;
  if (worker_id < 0) return;  // num_workers=0: no worker info, as in PyTorch
  py::gil_scoped_acquire gil;
  try {
    enter_worker(worker_id, c_.num_workers, detail::worker_seed(c_.seed, worker_id), c_.dataset);
    if (!c_.worker_init_fn.is_none()) c_.worker_init_fn(worker_id);
    flush_std_streams();
  } catch (py::error_already_set& e) {
    throw std::runtime_error("worker_init_fn or seeding the worker raised " + python_error_report(e));
  }
}

std::string PythonDatasetCore::payload() const {
  py::module_ pickle = py::module_::import("pickle");
  py::dict transforms;
  for (const auto& [name, spec] : c_.layout->transforms()) transforms[py::str(name)] = serialize_pipeline(spec);
  // Two pickles: the worker prepares its main module (where the dataset's
  // class may live) before it unpickles the second.
  const py::bytes inner = pickle.attr("dumps")(py::make_tuple(c_.dataset, c_.layout->fields(), c_.layout->source(),
                                                              transforms, c_.worker_init_fn, c_.num_workers, c_.seed),
                                               -1);
  return pickle.attr("dumps")(py::make_tuple(spawn_preparation(), inner), -1).cast<std::string>();
}

DatasetSpec PythonDatasetCore::spec() const {
  // The engine asks before every pool start, also when it will fork; pickle
  // only when the dataset may be spawned (auto spawns once threads run).
  if (c_.start_method == StartMethod::kFork) return {};
  if (c_.start_method == StartMethod::kAuto && detail::count_threads() <= 1) return {};
  py::gil_scoped_acquire gil;
  std::string why;
  if (!importable_elsewhere(c_.dataset) || !importable_elsewhere(c_.worker_init_fn)) {
    why = "its class or worker_init_fn is defined in an interactive __main__, which a fresh interpreter cannot import";
  } else {
    try {
      return {c_.iterable ? kIterableSpecKind : kMapSpecKind, payload()};
    } catch (py::error_already_set& e) {
      why = "pickling it failed: " + python_error_line(e);
    }
  }
  if (c_.start_method == StartMethod::kSpawn)
    throw InvalidOption("ferry: start_method='spawn' sends the dataset to fresh Python interpreters by pickle, but " +
                        why +
                        ". Define the dataset class (and worker_init_fn) at module level, open files and other "
                        "unpicklable members lazily in the worker (worker_init_fn or the first __getitem__ or "
                        "__iter__), or use start_method='fork' from a process without threads.");
  if (!warned_unspawnable_) {
    warned_unspawnable_ = true;
    const std::string text = "ferry: " + description_ + " cannot go to spawned workers: " + why;
    if (PyErr_WarnEx(PyExc_RuntimeWarning, text.c_str(), 1) != 0) PyErr_Clear();
  }
  return {};
}

DatasetConfig rebuild_config(const std::string& args) {
  py::module_ pickle = py::module_::import("pickle");
  const auto outer = pickle.attr("loads")(py::bytes(args)).cast<py::tuple>();
  py::module_::import("multiprocessing.spawn").attr("prepare")(outer[0]);
  const auto inner = pickle.attr("loads")(outer[1]).cast<py::tuple>();
  auto layout = SampleLayout::declared(inner[1], inner[2].cast<std::string>());
  Transforms transforms;
  for (auto [name, text] : inner[3].cast<py::dict>())
    transforms[name.cast<std::string>()] = parse_pipeline(text.cast<std::string>());
  layout->apply(transforms);
  DatasetConfig c;
  c.dataset = inner[0];
  c.layout = released_with_gil(std::move(layout));
  c.worker_init_fn = inner[4];
  c.num_workers = inner[5].cast<int>();
  c.seed = inner[6].cast<uint64_t>();
  return c;
}

}  // namespace ferry::python
