#include "python/src/py_dataset.h"

#include <pybind11/stl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include <string>
#include <vector>

#include "base/error.h"
#include "loader/builtin_datasets.h"
#include "loader/dataset_registry.h"
#include "loader/detail/batch_filler.h"
#include "loader/detail/spawn_payload.h"
#include "python/src/py_worker.h"
#include "python/src/tensor.h"
#include "trace/trace.h"
#include "workers/spawned_worker.h"

namespace py = pybind11;

namespace ferry::python {

namespace {

// The DatasetSpec kind of Python datasets; its args are the pickled dataset.
constexpr const char* kSpecKind = "python-map";

bool g_bootstrapping = false;

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
    py::gil_scoped_acquire gil;
    keep.reset();
  });
}

// Everything a worker needs to run the dataset; it travels to spawned
// workers by pickle (spawn_payload) and is constant after construction.
struct DatasetConfig {
  py::object dataset;
  std::shared_ptr<const SampleLayout> layout;
  py::object worker_init_fn = py::none();
  int num_workers = 0;
  uint64_t seed = 0;
  StartMethod start_method = StartMethod::kAuto;
};

class PyMapDataset final : public Dataset {
 public:
  explicit PyMapDataset(DatasetConfig config) : c_(std::move(config)) {
    size_ = int64_t(py::len(c_.dataset));
    description_ = "Python dataset " + python_type_name(c_.dataset);
    bad_sample_ = py::module_::import("ferry").attr("BadSample");
  }

  int64_t size() const override { return size_; }
  Schema schema() const override { return c_.layout->schema(); }
  std::string describe() const override { return description_; }
  void get(SampleContext& ctx, SampleWriter& out) override;
  void open_in_worker(int worker_id) override;
  DatasetSpec spec() const override;

 private:
  [[noreturn]] void rethrow(py::error_already_set& e) const;
  std::string payload() const;

  DatasetConfig c_;
  int64_t size_ = 0;
  std::string description_;
  py::object bad_sample_;
  int worker_id_ = -1;
  mutable bool warned_unspawnable_ = false;  // touched with the GIL held
};

void PyMapDataset::get(SampleContext& ctx, SampleWriter& out) {
  py::gil_scoped_acquire gil;
  SampleScope scope(ctx);
  try {
    py::object sample;
    {
      // For a Python dataset "read" is all of __getitem__.
      trace::ScopedStage read(trace::Stage::kRead);
      const py::int_ index(ctx.index);
      sample = py::reinterpret_steal<py::object>(PyObject_GetItem(c_.dataset.ptr(), index.ptr()));
    }
    if (!sample) throw py::error_already_set();
    c_.layout->write(sample, ctx, out);
  } catch (py::error_already_set& e) {
    rethrow(e);
  }
  if (worker_id_ >= 0) flush_std_streams();
}

void PyMapDataset::rethrow(py::error_already_set& e) const {
  if (e.matches(bad_sample_)) throw BadSample(py::str(e.value()).cast<std::string>());
  if (!e.matches(PyExc_Exception) && worker_id_ < 0)  // KeyboardInterrupt, SystemExit in this process
    throw PythonInterrupt{std::make_shared<py::error_already_set>(std::move(e))};
  throw std::runtime_error(python_error_report(e));
}

void PyMapDataset::open_in_worker(int worker_id) {
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

std::string PyMapDataset::payload() const {
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

DatasetSpec PyMapDataset::spec() const {
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
      return {kSpecKind, payload()};
    } catch (py::error_already_set& e) {
      why = "pickling it failed: " + python_error_line(e);
    }
  }
  if (c_.start_method == StartMethod::kSpawn)
    throw InvalidOption("ferry: start_method='spawn' sends the dataset to fresh Python interpreters by pickle, but " +
                        why +
                        ". Define the dataset class (and worker_init_fn) at module level, open files and other "
                        "unpicklable members lazily in the worker (worker_init_fn or the first __getitem__), or use "
                        "start_method='fork' from a process without threads.");
  if (!warned_unspawnable_) {
    warned_unspawnable_ = true;
    const std::string text = "ferry: " + description_ + " cannot go to spawned workers: " + why;
    if (PyErr_WarnEx(PyExc_RuntimeWarning, text.c_str(), 1) != 0) PyErr_Clear();
  }
  return {};
}

std::shared_ptr<Dataset> make_py_dataset(DatasetConfig config) {
  return gil_released(std::make_shared<PyMapDataset>(std::move(config)));
}

Transforms parse_transforms(const py::object& given) {
  Transforms out;
  if (given.is_none()) return out;
  if (!py::isinstance<py::dict>(given))
    throw InvalidOption("ferry: transforms must be a dict {field: pipeline}, e.g. {'image': 'train'}");
  for (auto [key, value] : py::reinterpret_borrow<py::dict>(given)) {
    const std::string name =
        py::isinstance<py::int_>(key) ? std::to_string(key.cast<int64_t>()) : py::str(key).cast<std::string>();
    if (py::isinstance<py::str>(value)) {
      out[name] = transforms::PipelineSpec::named(value.cast<std::string>());
    } else if (py::isinstance<py::tuple>(value) && py::len(value) == 2) {
      const auto t = value.cast<py::tuple>();
      out[name] = transforms::PipelineSpec::named(t[0].cast<std::string>(), t[1].cast<int>());
    } else {
      throw InvalidOption("ferry: transforms['" + name +
                          "'] must be a pipeline name ('train', 'val', 'train_u8', 'val_u8', 'decode') or "
                          "(name, size)");
    }
  }
  return out;
}

// A sample read in the main process (schema inference) sees the generator
// the loader's first epoch would give it.
py::object read_sample(const py::object& dataset, int64_t index, uint64_t seed) {
  SampleContext ctx;
  ctx.index = index;
  ctx.seed = seed;
  ctx.rng = Rng::for_sample(seed, 0, uint64_t(index));
  SampleScope scope(ctx);
  return dataset[py::int_(index)];
}

// In a child of infer_in_child: dataset[0]'s layout, or what went wrong, pickled.
std::string inferred_layout(const py::object& dataset, uint64_t seed) {
  py::module_ pickle = py::module_::import("pickle");
  py::tuple result;
  try {
    auto layout = SampleLayout::infer(read_sample(dataset, 0, seed), 0);
    py::list origins;
    for (LeafOrigin o : layout->origins()) origins.append(int(o));
    result = py::make_tuple("layout", layout->fields(), origins);
  } catch (py::error_already_set& e) {
    py::object exception = py::none();
    try {
      exception = pickle.attr("dumps")(e.value());
    } catch (py::error_already_set&) {
      // Not picklable: the text says it all.
    }
    result = py::make_tuple("python", python_error_report(e), exception);
  } catch (const std::exception& e) {
    result = py::make_tuple("ferry", std::string(e.what()), py::none());
  }
  return pickle.attr("dumps")(result).cast<std::string>();
}

// Reads dataset[0] in a forked child and brings its layout back, so that this
// process runs none of the dataset's code before the workers start: no thread
// pool started (torch's would turn every later start into a spawn), no file
// opened lazily and then shared with forked workers; as torch's DataLoader.
std::shared_ptr<SampleLayout> infer_in_child(const py::object& dataset, uint64_t seed) {
  py::module_ os = py::module_::import("os");
  const auto fds = os.attr("pipe")().cast<std::pair<int, int>>();
  const int pid = os.attr("fork")().cast<int>();
  if (pid == 0) {
    int status = 1;
    try {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::close(fds.first);
      const std::string data = inferred_layout(dataset, seed);
      size_t at = 0;
      while (at < data.size()) {
        const ssize_t n = ::write(fds.second, data.data() + at, data.size() - at);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        at += size_t(n);
      }
      flush_std_streams();
      status = at == data.size() ? 0 : 1;
    } catch (...) {
    }
    _exit(status);  // never back into the parent's Python frames
  }
  ::close(fds.second);
  std::string data;
  try {
    for (;;) {
      const py::bytes chunk = os.attr("read")(fds.first, 1 << 16);
      if (py::len(chunk) == 0) break;
      data += chunk.cast<std::string>();
    }
  } catch (...) {  // Ctrl-C while the child reads a slow sample
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    ::close(fds.first);
    throw;
  }
  ::close(fds.first);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (data.empty())
    throw InvalidOption(
        "ferry: reading dataset[0] to infer the schema killed the process that read it (" +
        (WIFSIGNALED(status) ? signal_name(WTERMSIG(status)) : "exit status " + std::to_string(WEXITSTATUS(status))) +
        "); run dataset[0] by hand to see why, or pass schema=");
  py::module_ pickle = py::module_::import("pickle");
  const auto result = pickle.attr("loads")(py::bytes(data)).cast<py::tuple>();
  const auto kind = result[0].cast<std::string>();
  if (kind == "ferry") throw InvalidOption(result[1].cast<std::string>());
  if (kind == "python") {
    const std::string report = "dataset[0], read to infer the schema, raised " + result[1].cast<std::string>();
    if (result[2].is_none()) throw std::runtime_error("ferry: " + report);
    py::object exception = pickle.attr("loads")(result[2]);
    if (py::hasattr(exception, "add_note")) exception.attr("add_note")(report);
    PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exception.ptr())), exception.ptr());
    throw py::error_already_set();
  }
  auto layout = SampleLayout::declared(result[1], "from sample 0");
  std::vector<LeafOrigin> origins;
  for (auto o : result[2]) origins.push_back(LeafOrigin(o.cast<int>()));
  layout->set_origins(origins);
  return layout;
}

void check_map_style(const py::object& dataset) {
  const bool has_len = py::hasattr(dataset, "__len__");
  if (py::hasattr(dataset, "__getitem__") && has_len) return;
  if (py::hasattr(dataset, "__iter__"))
    throw InvalidOption("ferry: " + python_type_name(dataset) +
                        " is an iterable dataset (__iter__); ferry.DataLoader takes map-style datasets "
                        "(__len__ and __getitem__) for now");
  throw InvalidOption(
      "ferry: DataLoader needs a ferry dataset or a map-style Python dataset (__len__ and "
      "__getitem__), got " +
      python_type_name(dataset));
}

std::string worker_program(const py::object& interpreter) {
  if (!interpreter.is_none()) return interpreter.cast<std::string>();
  return py::module_::import("sys").attr("executable").cast<std::string>();
}

// The -c program of a spawned worker: SIGINT ignored from the start (the
// parent decides), ferry importable from where this process loaded it.
std::string worker_code() {
  py::module_ os = py::module_::import("os");
  const py::object dir = os.attr("path").attr("dirname")(py::module_::import("ferry").attr("__file__"));
  return "import signal; signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
         "import sys; sys.path.insert(0, " +
         py::repr(dir).cast<std::string>() +
         ")\n"
         "import ferry; sys.exit(ferry._serve_worker())\n";
}

// Rebuilds a dataset from PyMapDataset::payload() in a spawned worker.
std::shared_ptr<Dataset> rebuild_in_worker(const std::string& args) {
  py::gil_scoped_acquire gil;
  g_bootstrapping = true;
  struct Reset {
    ~Reset() { g_bootstrapping = false; }
  } reset;
  try {
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
    return make_py_dataset(std::move(c));
  } catch (py::error_already_set& e) {
    throw InvalidOption("unpickling the Python dataset failed: " + python_error_report(e) +
                        "\nIts classes must be importable in a fresh interpreter: define them in a module or in the "
                        "main script (with the training code under `if __name__ == '__main__':`), not in an "
                        "interactive session or inside a function; or use start_method='fork'.");
  }
}

int serve_worker() {
  py::module_ sys = py::module_::import("sys");
  std::vector<std::string> args{sys.attr("executable").cast<std::string>()};
  const auto argv = sys.attr("argv").cast<std::vector<std::string>>();
  args.insert(args.end(), argv.begin() + (argv.empty() ? 0 : 1), argv.end());
  std::vector<char*> c_argv;
  for (auto& a : args) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  py::gil_scoped_release nogil;  // taken again by each sample
  return workers::serve_spawned_worker(int(args.size()), c_argv.data(), detail::make_spawned_producer);
}

}  // namespace

std::shared_ptr<const SampleLayout> released_with_gil(std::shared_ptr<SampleLayout> layout) {
  return gil_released<const SampleLayout>(std::move(layout));
}

bool in_worker_bootstrap() { return g_bootstrapping; }

LoaderInput python_dataset_input(py::object dataset, const PythonDatasetArgs& args, LoaderOptions& options) {
  check_map_style(dataset);
  const Transforms transforms = parse_transforms(args.transforms);
  std::shared_ptr<SampleLayout> layout;
  if (!args.schema.is_none()) {
    layout = SampleLayout::declared(args.schema);
  } else {
    if (py::len(dataset) == 0)
      throw InvalidOption("ferry: the dataset has no samples to infer the schema from; pass schema=");
    // In a child while this process may still fork its workers.
    layout = detail::count_threads() <= 1 ? infer_in_child(dataset, options.seed)
                                          : SampleLayout::infer(read_sample(dataset, 0, options.seed), 0);
  }
  layout->apply(transforms);
  DatasetConfig c;
  c.dataset = dataset;
  c.layout = released_with_gil(std::move(layout));
  c.worker_init_fn = args.worker_init_fn;
  c.num_workers = options.num_workers;
  c.seed = options.seed;
  c.start_method = options.start_method;
  LoaderInput input{make_py_dataset(c), dataset, c.layout};
  options.fork_hooks = python_fork_hooks();
  options.worker_executable = worker_program(args.interpreter);
  options.worker_args = {"-c", worker_code()};
  return input;
}

BatchConverter::BatchConverter(std::shared_ptr<const SampleLayout> layout, bool unbatched, py::object collate_fn)
    : layout_(std::move(layout)), unbatched_(unbatched), collate_fn_(std::move(collate_fn)) {}

py::object BatchConverter::operator()(const Batch& batch) const {
  py::dict fields = batch_to_dict(batch);
  if (!layout_) return fields;
  if (!collate_fn_.is_none()) {
    if (unbatched_) return collate_fn_(layout_->sample(fields, 0, true));
    py::list samples;
    for (int64_t i = 0; i < batch.size(); ++i) samples.append(layout_->sample(fields, i, true));
    return collate_fn_(samples);
  }
  if (unbatched_) return layout_->sample(fields, 0, false);
  return layout_->batch(fields);
}

void bind_python_datasets(py::module_& m) {
  register_dataset(kSpecKind, rebuild_in_worker);
  bind_sample_layout(m);
  bind_worker_api(m);
  m.def(
      "infer_schema",
      [](const py::object& dataset, int64_t index, uint64_t seed) {
        check_map_style(dataset);
        return SampleLayout::infer(read_sample(dataset, index, seed), index)->fields();
      },
      py::arg("dataset"), py::kw_only(), py::arg("index") = 0, py::arg("seed") = 0,
      "The schema DataLoader infers from dataset[index]: a structure shaped like the sample\n"
      "with a ferry.Field per leaf. Change leaves (e.g. ferry.Field('int64', ragged=True) for\n"
      "variable-length 1-D arrays) and pass it as DataLoader(schema=...).");
  m.def("_serve_worker", &serve_worker, "The main program of a spawned worker (start_method='spawn').");
}

}  // namespace ferry::python
