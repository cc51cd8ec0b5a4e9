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
#include "loader/iterable_dataset.h"
#include "python/src/py_dataset_core.h"
#include "python/src/py_worker.h"
#include "python/src/tensor.h"
#include "workers/spawned_worker.h"

namespace py = pybind11;

namespace ferry::python {

namespace {

bool g_bootstrapping = false;

class PyMapDataset final : public Dataset {
 public:
  explicit PyMapDataset(DatasetConfig config) : core_(std::move(config)) {
    size_ = int64_t(py::len(core_.config().dataset));
  }

  int64_t size() const override { return size_; }
  Schema schema() const override { return core_.config().layout->schema(); }
  std::string describe() const override { return core_.description(); }
  void get(SampleContext& ctx, SampleWriter& out) override;
  void open_in_worker(int worker_id) override { core_.open_in_worker(worker_id); }
  DatasetSpec spec() const override { return core_.spec(); }

 private:
  PythonDatasetCore core_;
  int64_t size_ = 0;
};

void PyMapDataset::get(SampleContext& ctx, SampleWriter& out) {
  core_.write_sample(ctx, out, [&] {
    const py::int_ index(ctx.index);
    return PyObject_GetItem(core_.config().dataset.ptr(), index.ptr());
  });
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
// the loader's first epoch would give it: dataset[index], or for an
// iterable dataset the sample at `index` of iter(dataset) (as stream 0 of
// num_workers=0 reads it).
py::object read_sample(const py::object& dataset, bool iterable, int64_t index, uint64_t seed) {
  SampleContext ctx;
  ctx.index = index;
  ctx.seed = seed;
  if (!iterable) {
    ctx.rng = Rng::for_sample(seed, 0, uint64_t(index));
    SampleScope scope(ctx);
    return dataset[py::int_(index)];
  }
  py::iterator it = py::iter(dataset);
  for (int64_t position = 0;; ++position, ++it) {
    ctx.index = position;
    ctx.rng = stream_sample_rng(seed, 0, 0, position);
    SampleScope scope(ctx);
    if (it == py::iterator::sentinel())
      throw InvalidOption("ferry: iter(dataset) of " + python_type_name(dataset) + " yielded " +
                          std::to_string(position) + " samples, none at position " + std::to_string(index) +
                          " to infer the schema from; pass schema=");
    if (position == index) return py::reinterpret_borrow<py::object>(*it);
  }
}

// In a child of infer_in_child: dataset[0]'s layout, or what went wrong, pickled.
std::string inferred_layout(const py::object& dataset, bool iterable, uint64_t seed) {
  py::module_ pickle = py::module_::import("pickle");
  py::tuple result;
  try {
    auto layout = SampleLayout::infer(read_sample(dataset, iterable, 0, seed), 0);
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
std::shared_ptr<SampleLayout> infer_in_child(const py::object& dataset, bool iterable, uint64_t seed) {
  py::module_ os = py::module_::import("os");
  const auto fds = os.attr("pipe")().cast<std::pair<int, int>>();
  const int pid = os.attr("fork")().cast<int>();
  if (pid == 0) {
    int status = 1;
    try {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::close(fds.first);
      const std::string data = inferred_layout(dataset, iterable, seed);
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
        "ferry: reading the first sample to infer the schema killed the process that read it (" +
        (WIFSIGNALED(status) ? signal_name(WTERMSIG(status)) : "exit status " + std::to_string(WEXITSTATUS(status))) +
        "); run dataset[0] by hand to see why, or pass schema=");
  py::module_ pickle = py::module_::import("pickle");
  const auto result = pickle.attr("loads")(py::bytes(data)).cast<py::tuple>();
  const auto kind = result[0].cast<std::string>();
  if (kind == "ferry") throw InvalidOption(result[1].cast<std::string>());
  if (kind == "python") {
    const std::string report = std::string(iterable ? "the first sample of iter(dataset)" : "dataset[0]") +
                               ", read to infer the schema, raised " + result[1].cast<std::string>();
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

bool is_torch_iterable(const py::object& dataset) {
  // Only when torch is loaded already: ferry never imports it.
  py::dict modules = py::module_::import("sys").attr("modules");
  if (!modules.contains("torch.utils.data")) return false;
  py::object base = modules["torch.utils.data"].attr("IterableDataset");
  return py::isinstance(dataset, base);
}

// True for an iterable dataset (a torch IterableDataset, or an object with
// __iter__ but not both __len__ and __getitem__), false for a map-style one;
// throws for anything else.
bool is_iterable_dataset(const py::object& dataset) {
  const bool map_style = py::hasattr(dataset, "__getitem__") && py::hasattr(dataset, "__len__");
  if (is_torch_iterable(dataset) || (!map_style && py::hasattr(dataset, "__iter__"))) {
    if (py::hasattr(dataset, "__next__"))
      throw InvalidOption("ferry: " + python_type_name(dataset) +
                          " is an iterator, which can be read only once and would repeat itself in every worker; "
                          "pass an iterable whose __iter__ starts a new pass (a class with __iter__, e.g. a "
                          "torch.utils.data.IterableDataset)");
    return true;
  }
  if (map_style) return false;
  throw InvalidOption(
      "ferry: DataLoader needs a ferry dataset, a map-style Python dataset (__len__ and __getitem__) or an "
      "iterable one (__iter__), got " +
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

// Runs `make` on the config a spawned worker received, with the GIL and the
// bootstrapping flag set; errors say how to make the dataset picklable.
template <class Make>
auto rebuild_in_worker(const std::string& args, Make make) {
  py::gil_scoped_acquire gil;
  g_bootstrapping = true;
  struct Reset {
    ~Reset() { g_bootstrapping = false; }
  } reset;
  try {
    return make(rebuild_config(args));
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
  const bool iterable = is_iterable_dataset(dataset);
  const Transforms transforms = parse_transforms(args.transforms);
  std::shared_ptr<SampleLayout> layout;
  if (!args.schema.is_none()) {
    layout = SampleLayout::declared(args.schema);
  } else {
    if (!iterable && py::len(dataset) == 0)
      throw InvalidOption("ferry: the dataset has no samples to infer the schema from; pass schema=");
    // In a child while this process may still fork its workers.
    layout = detail::count_threads() <= 1 ? infer_in_child(dataset, iterable, options.seed)
                                          : SampleLayout::infer(read_sample(dataset, iterable, 0, options.seed), 0);
  }
  layout->apply(transforms);
  DatasetConfig c;
  c.dataset = dataset;
  c.layout = released_with_gil(std::move(layout));
  c.worker_init_fn = args.worker_init_fn;
  c.num_workers = options.num_workers;
  c.seed = options.seed;
  c.start_method = options.start_method;
  LoaderInput input{nullptr, nullptr, dataset, c.layout};
  if (iterable) {
    input.iterable = make_py_iterable(c);
  } else {
    input.dataset = make_py_dataset(c);
  }
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
  register_dataset(kMapSpecKind, [](const std::string& args) {
    return rebuild_in_worker(args, [](DatasetConfig c) { return make_py_dataset(std::move(c)); });
  });
  register_iterable_dataset(kIterableSpecKind, [](const std::string& args) {
    return rebuild_in_worker(args, [](DatasetConfig c) { return make_py_iterable(std::move(c)); });
  });
  bind_sample_layout(m);
  bind_worker_api(m);
  m.def(
      "infer_schema",
      [](const py::object& dataset, int64_t index, uint64_t seed) {
        const bool iterable = is_iterable_dataset(dataset);
        return SampleLayout::infer(read_sample(dataset, iterable, index, seed), index)->fields();
      },
      py::arg("dataset"), py::kw_only(), py::arg("index") = 0, py::arg("seed") = 0,
      "The schema DataLoader infers from dataset[index]: a structure shaped like the sample\n"
      "with a ferry.Field per leaf. Change leaves (e.g. ferry.Field('int64', ragged=True) for\n"
      "variable-length 1-D arrays) and pass it as DataLoader(schema=...).");
  m.def("_serve_worker", &serve_worker, "The main program of a spawned worker (start_method='spawn').");
}

}  // namespace ferry::python
