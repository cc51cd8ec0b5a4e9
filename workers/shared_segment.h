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
  /// The file_system strategy: a named POSIX segment (/dev/shm/<name>, name
  /// without the slash) created exclusively, space reserved, mapped.
  static SharedSegment create_named(const std::string& name, size_t bytes, const std::string& purpose);
  /// Opens and maps a named segment another process created.
  static SharedSegment open_named(const std::string& name, size_t bytes);
  /// Removes the name (the mapping stays). Idempotent; false if already gone.
  bool unlink_name() noexcept;
  const std::string& name() const { return name_; }

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
  std::string name_;  // file_system strategy: the name while it exists
  std::byte* data_ = nullptr;
  size_t size_ = 0;
};

/// Human-readable byte count: "300.0 MiB".
std::string format_bytes(double bytes);

/// Names of the file_system strategy carry the creating pid:
/// "ferry-<pid>-<what>". Removes those in /dev/shm whose creator is dead
/// (left by a process that was SIGKILLed); returns how many.
int reap_stale_named_segments();
std::string segment_name(const std::string& what);

/// Rounds up to a multiple of the page size.
size_t round_up_to_page(size_t bytes);

}  // namespace ferry::workers
