#pragma once
/// ferry's C++ exceptions as Python exceptions with the same messages:
///
///   ferry.Error            (Exception)      ferry::Error
///   ├── InvalidOption      (+ ValueError)   ferry::InvalidOption
///   ├── SystemError        (+ OSError)      ferry::SystemError      .errno
///   ├── WorkerCrashed      (+ RuntimeError) ferry::WorkerCrashed    .worker_id .pid .signal
///   ├── SampleFailed       (+ RuntimeError) ferry::SampleFailed     .worker_id .sample_index
///   ├── Timeout            (+ TimeoutError, RuntimeError)  ferry::Timeout
///   ├── DataError                           ferry::DataError
///   └── BadSample                           ferry::BadSample
#include <pybind11/pybind11.h>

namespace ferry::python {

/// Creates the exception classes in `m` and registers the translator.
void bind_errors(pybind11::module_& m);

}  // namespace ferry::python
