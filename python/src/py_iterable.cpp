// Iterable Python datasets (__iter__), as PyTorch runs them: each worker
// reads its own iter(dataset) front to back, and a dataset that should not
// repeat itself in every worker splits its data with get_worker_info().
// One stream per worker (one for num_workers=0), so the engine delivers
// batch 0 of worker 0, batch 0 of worker 1, ... as torch's DataLoader does.
#include <algorithm>
#include <memory>
#include <string>

#include "base/error.h"
#include "loader/iterable_dataset.h"
#include "python/src/py_dataset_core.h"

namespace py = pybind11;

namespace ferry::python {

namespace {

class PyStream final : public SampleStream {
 public:
  PyStream(py::object iterator, const PythonDatasetCore& core) : it_(std::move(iterator)), core_(core) {}

  ~PyStream() override {
    if (!Py_IsInitialized()) {
      it_.release();  // the interpreter is gone: leak rather than crash
      return;
    }
    py::gil_scoped_acquire gil;
    it_ = py::object();  // a generator's finally blocks run here
  }

  bool next(SampleContext& ctx, SampleWriter& out) override {
    return core_.write_sample(ctx, out, [this] { return PyIter_Next(it_.ptr()); });
  }

 private:
  py::object it_;
  const PythonDatasetCore& core_;  // owned by the dataset, which outlives its streams
};

class PyIterableDataset final : public IterableDataset {
 public:
  explicit PyIterableDataset(DatasetConfig config) : core_(std::move(config)) {
    const py::object& d = core_.config().dataset;
    if (py::hasattr(d, "__len__")) {
      try {
        size_hint_ = int64_t(py::len(d));
      } catch (py::error_already_set&) {
        // torch's IterableDataset has no len; a dataset's own may raise TypeError too.
      }
    }
  }

  Schema schema() const override { return core_.config().layout->schema(); }
  int64_t streams(uint64_t, int num_workers) const override { return std::max(num_workers, 1); }
  void open_in_worker(int worker_id) override { core_.open_in_worker(worker_id); }
  int64_t size_hint() const override { return size_hint_; }
  std::string describe() const override { return core_.description(); }
  DatasetSpec spec() const override { return core_.spec(); }

  std::unique_ptr<SampleStream> open(const StreamContext&) override {
    py::gil_scoped_acquire gil;
    try {
      py::object it = py::reinterpret_steal<py::object>(PyObject_GetIter(core_.config().dataset.ptr()));
      if (!it) throw py::error_already_set();
      return std::make_unique<PyStream>(std::move(it), core_);
    } catch (py::error_already_set& e) {
      core_.rethrow(e);
    }
  }

 private:
  PythonDatasetCore core_;
  int64_t size_hint_ = -1;
};

}  // namespace

std::shared_ptr<IterableDataset> make_py_iterable(DatasetConfig config) {
  config.iterable = true;  // its spec() names the iterable kind
  return gil_released(std::shared_ptr<IterableDataset>(std::make_shared<PyIterableDataset>(std::move(config))));
}

}  // namespace ferry::python
