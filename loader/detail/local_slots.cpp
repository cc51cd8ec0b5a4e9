#include "loader/detail/local_slots.h"

#include <algorithm>
#include <cstdlib>
#include <new>

#include "loader/detail/batch_layout.h"

namespace ferry::detail {

LocalSlots::~LocalSlots() {
  for (void* p : free_) std::free(p);
}

std::shared_ptr<std::byte> LocalSlots::take(size_t bytes) {
  const bool reusable = bytes <= slot_bytes_;
  void* p = nullptr;
  if (reusable) {
    std::lock_guard lock(mutex_);
    if (!free_.empty()) {
      p = free_.back();
      free_.pop_back();
    }
  }
  if (!p) p = std::aligned_alloc(4096, reusable ? slot_bytes_ : align_up(bytes, 4096));
  if (!p) throw std::bad_alloc();
  auto self = shared_from_this();
  return std::shared_ptr<std::byte>(static_cast<std::byte*>(p), [self, reusable](std::byte* q) {
    if (!reusable) return std::free(q);
    std::lock_guard lock(self->mutex_);
    self->free_.push_back(q);
  });
}

std::span<std::byte> LocalSink::allocate(size_t bytes) {
  memory_ = slots_.take(bytes);
  size_ = std::max(bytes, slots_.slot_bytes());
  return {memory_.get(), size_};
}

}  // namespace ferry::detail
