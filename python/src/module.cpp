// The `ferry` Python module: a thin binding over the C++ engine.
#include <pybind11/pybind11.h>

#include "python/src/errors.h"
#include "python/src/loader.h"
#include "python/src/py_dataset.h"
#include "python/src/tensor.h"

PYBIND11_MODULE(ferry, m) {
  m.doc() =
      "ferry: a native data loader for ML training.\n\n"
      "  ds = ferry.ImageFolder('/data/train', pipeline='train')\n"
      "  loader = ferry.DataLoader(ds, batch_size=256, shuffle=True, num_workers=8)\n"
      "  for batch in loader:                       # one epoch per iter()\n"
      "      x = torch.from_dlpack(batch['image'])  # no copy\n"
      "      y = torch.from_dlpack(batch['label'])\n";
  m.attr("__version__") = "0.1.0";
  ferry::python::bind_errors(m);
  ferry::python::bind_tensors(m);
  ferry::python::bind_loader(m);
  ferry::python::bind_python_datasets(m);
}
