#pragma once
/// ferry.Dataset, ferry.ImageFolder, ferry.open_dataset and ferry.DataLoader.
///
/// A ferry.Dataset is a C++ dataset built from Python arguments; its workers
/// run no Python. Any other dataset is a Python map-style dataset run by
/// Python workers (py_dataset.h). The consumer waits for batches with the
/// GIL released; when that wait is interrupted by a signal, the binding runs
/// Python's signal handlers and, on KeyboardInterrupt, stops the workers
/// before the exception reaches Python.
#include <pybind11/pybind11.h>

namespace ferry::python {

void bind_loader(pybind11::module_& m);

}  // namespace ferry::python
