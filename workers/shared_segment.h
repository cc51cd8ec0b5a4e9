#pragma once
/// A shared-memory segment: a memfd, its space reserved up front, mapped
/// read-write. Reserving with fallocate turns "/dev/shm is full" into an
/// error at creation instead of a SIGBUS at first touch.
#include <cstddef>
#include <string>

#include "base/unique_fd.h"

namespace ferry::workers {

class SharedSegment {
 public:
  SharedSegment() = default;
  /// Creates and maps `bytes` of fresh shared memory named `name` (shows in
  /// /proc/PID/maps as /memfd:name). `purpose` goes into error messages.
  static SharedSegment create(const std::string& name, size_t bytes, const std::string& purpose);
  /// Maps `bytes` of an existing segment received from another process.
  static SharedSegment map(UniqueFd fd, size_t bytes);

  SharedSegment(SharedSegment&& o) noexcept;
  SharedSegment& operator=(SharedSegment&& o) noexcept;
  SharedSegment(const SharedSegment&) = delete;
  SharedSegment& operator=(const SharedSegment&) = delete;
  ~SharedSegment();

  std::byte* data() const { return data_; }
  size_t size() const { return size_; }
  int fd() const { return fd_.get(); }
  /// Drops the fd; the mapping stays valid until destruction.
  void close_fd() { fd_.reset(); }
  /// Faults every page in (this process's page tables), so the first write
  /// of a batch does not pay for page faults.
  void prefault() const;

 private:
  UniqueFd fd_;
  std::byte* data_ = nullptr;
  size_t size_ = 0;
};

/// Human-readable byte count: "300.0 MiB".
std::string format_bytes(double bytes);

/// Rounds up to a multiple of the page size.
size_t round_up_to_page(size_t bytes);

}  // namespace ferry::workers
