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

Batch Batch::moved_to_device(std::shared_ptr<void> owner, DeviceMemory* device, std::byte* device_memory,
                             size_t bytes) && {
  auto rebase = [&](TensorView& v) {
    if (v.data != nullptr) v.data = device_memory + (static_cast<const std::byte*>(v.data) - memory_);
  };
  for (auto& f : fields_) {
    rebase(f.values);
    rebase(f.offsets);
  }
  Batch out(std::move(owner), device_memory, bytes, samples_, index_, epoch_, std::move(sample_indices_),
            std::move(fields_));
  out.device_ = device;
  owner_.reset();
  return out;
}

}  // namespace ferry
