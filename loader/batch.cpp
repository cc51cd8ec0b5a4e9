#include "loader/batch.h"

#include <stdexcept>

namespace ferry {

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

const BatchField& Batch::field(std::string_view name) const {
  for (const auto& f : fields_)
    if (f.name == name) return f;
  std::string names;
  for (const auto& f : fields_) names += (names.empty() ? "" : ", ") + f.name;
  throw std::out_of_range("ferry: batch has no field '" + std::string(name) + "' (fields: " + names + ")");
}

}  // namespace ferry
