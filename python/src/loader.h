#pragma once
/// ferry.Dataset, ferry.ImageFolder, ferry.open_dataset and ferry.DataLoader.
///
/// Python never runs inside a worker: datasets are C++ objects built from
/// Python arguments, and the workers are forked from the Python process. The
/// consumer waits for batches with the GIL released; when that wait is
/// interrupted by a signal, the binding runs Python's signal handlers and, on
/// KeyboardInterrupt, stops the workers before the exception reaches Python.
#include <pybind11/pybind11.h>

namespace ferry::python {

void bind_loader(pybind11::module_& m);

}  // namespace ferry::python
