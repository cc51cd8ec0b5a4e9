#include "python/src/errors.h"

#include <string>

#include "base/error.h"

namespace py = pybind11;

namespace ferry::python {

namespace {

// The classes live as long as the interpreter (module attributes); these
// borrowed pointers are what the translator raises.
struct ErrorTypes {
  PyObject* error = nullptr;
  PyObject* invalid_option = nullptr;
  PyObject* system_error = nullptr;
  PyObject* worker_crashed = nullptr;
  PyObject* sample_failed = nullptr;
  PyObject* timeout = nullptr;
  PyObject* data_error = nullptr;
  PyObject* bad_sample = nullptr;
};
ErrorTypes g_types;

PyObject* make_type(py::module_& m, const char* name, py::tuple bases, const char* doc) {
  const std::string qualified = std::string("ferry.") + name;
  PyObject* t = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, bases.ptr(), nullptr);
  if (!t) throw py::error_already_set();
  m.add_object(name, py::handle(t));  // the module keeps the reference
  return t;
}

// Raises `type(message)` with extra attributes set on the instance.
void raise(PyObject* type, const char* message, const py::dict& attrs = {}) {
  py::object exc = py::reinterpret_borrow<py::object>(type)(py::str(message));
  for (auto item : attrs) py::setattr(exc, item.first, item.second);
  PyErr_SetObject(type, exc.ptr());
}

}  // namespace

void bind_errors(py::module_& m) {
  py::object exception = py::module_::import("builtins").attr("Exception");
  py::object value_error = py::module_::import("builtins").attr("ValueError");
  py::object os_error = py::module_::import("builtins").attr("OSError");
  py::object timeout_error = py::module_::import("builtins").attr("TimeoutError");
  // PyTorch code catches RuntimeError for worker failures.
  py::object runtime_error = py::module_::import("builtins").attr("RuntimeError");

  g_types.error = make_type(m, "Error", py::make_tuple(exception), "Base of every error ferry raises.");
  py::handle base(g_types.error);
  g_types.invalid_option =
      make_type(m, "InvalidOption", py::make_tuple(base, value_error), "A bad option value (names the option).");
  g_types.system_error =
      make_type(m, "SystemError", py::make_tuple(base, os_error), "An OS call failed; .errno holds the code.");
  g_types.worker_crashed = make_type(m, "WorkerCrashed", py::make_tuple(base, runtime_error),
                                     "A worker process died; .worker_id, .pid, .signal (0 if it exited).");
  g_types.sample_failed = make_type(m, "SampleFailed", py::make_tuple(base, runtime_error),
                                    "Producing a sample failed; .worker_id (-1: calling thread), .sample_index.");
  g_types.timeout = make_type(m, "Timeout", py::make_tuple(base, timeout_error, runtime_error),
                              "A worker made no progress within `timeout` seconds.");
  g_types.data_error = make_type(m, "DataError", py::make_tuple(base), "A dataset file is malformed or corrupt.");
  g_types.bad_sample = make_type(m, "BadSample", py::make_tuple(base), "One sample's bytes are unreadable.");

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ferry::SampleFailed& e) {
      py::dict a;
      a["worker_id"] = e.worker_id();
      a["sample_index"] = e.sample_index();
      raise(g_types.sample_failed, e.what(), a);
    } catch (const ferry::WorkerCrashed& e) {
      py::dict a;
      a["worker_id"] = e.worker_id();
      a["pid"] = e.pid();
      a["signal"] = e.signal();
      raise(g_types.worker_crashed, e.what(), a);
    } catch (const ferry::SystemError& e) {
      // OSError(errno, strerror) would rewrite the message; keep ferry's and set .errno.
      py::dict a;
      a["errno"] = e.code();
      raise(g_types.system_error, e.what(), a);
    } catch (const ferry::InvalidOption& e) {
      raise(g_types.invalid_option, e.what());
    } catch (const ferry::Timeout& e) {
      raise(g_types.timeout, e.what());
    } catch (const ferry::DataError& e) {
      raise(g_types.data_error, e.what());
    } catch (const ferry::BadSample& e) {
      raise(g_types.bad_sample, e.what());
    } catch (const ferry::Error& e) {
      raise(g_types.error, e.what());
    }
  });
}

}  // namespace ferry::python
