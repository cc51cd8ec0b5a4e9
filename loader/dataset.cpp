#include "loader/dataset.h"

namespace ferry {

int64_t sample_bytes(const FieldSpec& f) {
  int64_t n = static_cast<int64_t>(dtype_size(f.dtype));
  for (int64_t d : f.shape) n *= d;
  return n;
}

}  // namespace ferry
