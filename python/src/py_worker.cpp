#include "python/src/py_worker.h"

#include <Python.h>

#include "base/rng.h"

namespace py = pybind11;

namespace ferry::python {

namespace {

// Mixed into the sample's seed for its Python generator ("python").
constexpr uint64_t kPythonStream = 0x707974686f6eull;
// Mixed into the worker's seed for numpy's global generator ("numpy").
constexpr uint64_t kNumpyStream = 0x6e756d7079ull;
// Tracebacks longer than this keep their most recent part.
constexpr size_t kMaxTracebackBytes = 16 * 1024;

thread_local SampleScope* t_scope = nullptr;

// The worker's get_worker_info(); a reference kept for the process's life.
PyObject* g_worker_info = nullptr;

// Held from `before` to `after_*` around one fork (the engine forks from one
// thread at a time); the child inherits the value.
PyGILState_STATE g_fork_gil;

struct WorkerInfo {
  int id;
  int num_workers;
  uint64_t seed;
  py::object dataset;
};

py::object loaded_module(const char* name) {
  py::dict modules = py::module_::import("sys").attr("modules");
  return modules.contains(name) ? py::object(modules[name]) : py::none();
}

// torch.utils.data.get_worker_info() reads this module global; datasets
// written for torch shard by it.
void set_torch_worker_info(const WorkerInfo& w) {
  py::object worker = loaded_module("torch.utils.data._utils.worker");
  if (worker.is_none()) return;
  try {
    worker.attr("_worker_info") =
        worker.attr("WorkerInfo")(py::arg("id") = w.id, py::arg("num_workers") = w.num_workers,
                                  py::arg("seed") = w.seed, py::arg("dataset") = w.dataset);
  } catch (py::error_already_set&) {
    // Another torch: its own loader's info is not ours to fake.
  }
}

}  // namespace

SampleScope::SampleScope(const SampleContext& ctx) : outer_(t_scope) {
  Rng copy = ctx.rng;
  seed_ = mix_seed(copy.next_u64(), kPythonStream);
  t_scope = this;
}

SampleScope::~SampleScope() { t_scope = outer_; }

SampleScope* SampleScope::current() { return t_scope; }

py::object SampleScope::generator() {
  if (!generator_) {
    py::module_ random = py::module_::import("numpy.random");
    generator_ = random.attr("Generator")(random.attr("PCG64")(seed_));
  }
  return generator_;
}

void enter_worker(int worker_id, int num_workers, uint64_t worker_seed, py::handle dataset) {
  WorkerInfo w{worker_id, num_workers, worker_seed, py::reinterpret_borrow<py::object>(dataset)};
  py::object info = py::cast(w);
  Py_XDECREF(g_worker_info);
  g_worker_info = info.release().ptr();
  set_torch_worker_info(w);
  py::module_::import("random").attr("seed")(worker_seed);
  try {
    py::module_ np_random = py::module_::import("numpy.random");
    // random.seed(n) and numpy's seed([low, high]) key the same Mersenne
    // Twister alike: a seed of its own keeps the two streams apart.
    const uint64_t np_seed = mix_seed(worker_seed, kNumpyStream);
    np_random.attr("seed")(py::make_tuple(np_seed & 0xffffffffu, np_seed >> 32));
  } catch (py::error_already_set& e) {
    if (!e.matches(PyExc_ImportError)) throw;
  }
  // Importing torch only to seed it would cost every worker seconds; a
  // dataset that uses torch has imported it by now (unpickling imports it).
  py::object torch = loaded_module("torch");
  if (!torch.is_none()) {
    torch.attr("manual_seed")(worker_seed);
    // As in torch's workers: one intra-op thread each, or the workers'
    // thread pools fight over the cores.
    torch.attr("set_num_threads")(1);
  }
}

workers::ForkHooks python_fork_hooks() {
  workers::ForkHooks hooks;
  hooks.before = [] {
    g_fork_gil = PyGILState_Ensure();
    flush_std_streams();  // or the child would write the parent's buffered output again
    PyOS_BeforeFork();
  };
  hooks.after_parent = [] {
    PyOS_AfterFork_Parent();
    PyGILState_Release(g_fork_gil);
  };
  hooks.after_child = [] {
    PyOS_AfterFork_Child();
    PyGILState_Release(g_fork_gil);
  };
  return hooks;
}

void flush_std_streams() {
  for (const char* name : {"stdout", "stderr"}) {
    PyObject* stream = PySys_GetObject(name);  // borrowed
    if (!stream || stream == Py_None) continue;
    PyObject* r = PyObject_CallMethod(stream, "flush", nullptr);
    if (r)
      Py_DECREF(r);
    else
      PyErr_Clear();
  }
}

std::string python_type_name(py::handle value) {
  return py::type::handle_of(value).attr("__qualname__").cast<std::string>();
}

std::string python_error_line(py::error_already_set& e) {
  py::handle type = e.type();
  std::string name = type.attr("__qualname__").cast<std::string>();
  const std::string module = py::str(type.attr("__module__")).cast<std::string>();
  if (module != "builtins") name = module + "." + name;
  const std::string message = py::str(e.value()).cast<std::string>();
  return message.empty() ? name : name + ": " + message;
}

std::string python_error_report(py::error_already_set& e) {
  std::string trace;
  try {
    py::list lines = py::module_::import("traceback").attr("format_exception")(e.type(), e.value(), e.trace());
    for (auto line : lines) trace += line.cast<std::string>();
  } catch (py::error_already_set&) {
    trace = "(no traceback: formatting it failed)\n";
  }
  if (trace.size() > kMaxTracebackBytes) trace = "...\n" + trace.substr(trace.size() - kMaxTracebackBytes);
  while (!trace.empty() && trace.back() == '\n') trace.pop_back();
  return python_error_line(e) + "\n" + trace;
}

py::dict spawn_preparation() {
  py::module_ sys = py::module_::import("sys");
  py::module_ os = py::module_::import("os");
  const py::object cwd = os.attr("getcwd")();
  py::list path;
  for (auto p : sys.attr("path")) {
    if (py::str(p).cast<std::string>().empty())
      path.append(cwd);  // "" means the directory the parent started in
    else
      path.append(p);
  }
  py::dict d;
  d["sys_path"] = path;
  d["sys_argv"] = sys.attr("argv");
  d["dir"] = cwd;
  py::object main = py::dict(sys.attr("modules"))["__main__"];
  py::object spec = py::getattr(main, "__spec__", py::none());
  py::object name = spec.is_none() ? py::none() : py::getattr(spec, "name", py::none());
  py::object file = py::getattr(main, "__file__", py::none());
  if (!name.is_none())
    d["init_main_from_name"] = name;
  else if (!file.is_none())
    d["init_main_from_path"] = os.attr("path").attr("abspath")(file);
  return d;
}

bool importable_elsewhere(py::handle obj) {
  if (obj.is_none()) return true;
  py::handle where = obj;
  if (!PyType_Check(obj.ptr()) && !PyFunction_Check(obj.ptr())) where = py::type::handle_of(obj);
  const py::object module = py::getattr(where, "__module__", py::none());
  if (module.is_none() || py::str(module).cast<std::string>() != "__main__") return true;
  py::object main = py::dict(py::module_::import("sys").attr("modules"))["__main__"];
  return py::hasattr(main, "__file__") || !py::getattr(main, "__spec__", py::none()).is_none();
}

void bind_worker_api(py::module_& m) {
  py::class_<WorkerInfo>(m, "WorkerInfo",
                         "What get_worker_info() returns in a worker: id, num_workers, seed (the one\n"
                         "random, numpy and torch were seeded with) and dataset (this worker's copy).")
      .def_readonly("id", &WorkerInfo::id)
      .def_readonly("num_workers", &WorkerInfo::num_workers)
      .def_readonly("seed", &WorkerInfo::seed)
      .def_readonly("dataset", &WorkerInfo::dataset)
      .def("__repr__", [](const WorkerInfo& w) {
        return "ferry.WorkerInfo(id=" + std::to_string(w.id) + ", num_workers=" + std::to_string(w.num_workers) +
               ", seed=" + std::to_string(w.seed) + ")";
      });

  m.def(
      "get_worker_info",
      []() -> py::object {
        if (!g_worker_info) return py::none();
        return py::reinterpret_borrow<py::object>(g_worker_info);
      },
      "In a worker process: its WorkerInfo (id, num_workers, seed, dataset). None in the\n"
      "main process (num_workers=0 included), as torch.utils.data.get_worker_info().");

  auto scope = [](const char* what) -> SampleScope& {
    SampleScope* s = SampleScope::current();
    if (!s)
      throw std::runtime_error(std::string("ferry.") + what +
                               "() is for __getitem__ of a dataset that a ferry.DataLoader (or ferry.infer_schema) "
                               "is reading; no sample is being produced in this thread");
    return *s;
  };
  m.def(
      "sample_rng", [scope] { return scope("sample_rng").generator(); },
      "Inside __getitem__: a numpy.random.Generator for this sample, seeded from the loader's\n"
      "(seed, epoch, index). Its numbers do not depend on the worker, the number of workers,\n"
      "respawns or resumes. Repeated calls in one __getitem__ return the same generator.");
  m.def(
      "sample_seed", [scope] { return scope("sample_seed").seed(); },
      "Inside __getitem__: the 64-bit seed behind sample_rng(), e.g. for\n"
      "random.Random(seed) or torch.Generator().manual_seed(seed).");
}

}  // namespace ferry::python
