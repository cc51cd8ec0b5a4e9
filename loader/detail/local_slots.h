#pragma once
// Batch memory for num_workers 0, where the calling thread fills batches: a
// few reusable page-aligned buffers, so it never allocates per batch either.
#include <cstddef>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "workers/producer.h"

namespace ferry::detail {

class LocalSlots : public std::enable_shared_from_this<LocalSlots> {
 public:
  explicit LocalSlots(size_t slot_bytes) : slot_bytes_(slot_bytes) {}
  ~LocalSlots();
  LocalSlots(const LocalSlots&) = delete;
  LocalSlots& operator=(const LocalSlots&) = delete;

  // At least `bytes` (a reused slot when it fits); freed or reused when the
  // last holder drops it, which may be after this object is gone.
  std::shared_ptr<std::byte> take(size_t bytes);
  size_t slot_bytes() const { return slot_bytes_; }

 private:
  size_t slot_bytes_;
  std::mutex mutex_;
  std::vector<void*> free_;
};

// The SlotSink of the calling thread: memory from LocalSlots.
class LocalSink final : public workers::SlotSink {
 public:
  explicit LocalSink(LocalSlots& slots) : slots_(slots) {}
  std::span<std::byte> allocate(size_t bytes) override;
  size_t slot_bytes() const override { return slots_.slot_bytes(); }

  const std::shared_ptr<std::byte>& memory() const { return memory_; }
  size_t size() const { return size_; }

 private:
  LocalSlots& slots_;
  std::shared_ptr<std::byte> memory_;
  size_t size_ = 0;
};

}  // namespace ferry::detail
