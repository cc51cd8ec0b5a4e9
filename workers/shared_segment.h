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

 private:
  UniqueFd fd_;
  std::string name_;  // file_system strategy: the name while it exists
  std::byte* data_ = nullptr;
  size_t size_ = 0;
};

/// Human-readable byte count: "300.0 MiB".
std::string format_bytes(double bytes);

/// A fresh name for a file_system segment: "ferry-<pid>-<token>-<what>-<n>".
/// The token is random; while names of it exist, the process keeps
/// "/dev/shm/ferry-<pid>-<token>.alive" locked (flock), so liveness is known
/// without trusting the pid, which names another process (or none) in another
/// pid namespace sharing /dev/shm. When the last name this process created is
/// unlinked, the .alive file goes too, and the next name gets a new token.
std::string segment_name(const std::string& what);
/// Removes the segments in /dev/shm whose creator is dead (left by a process
/// that was SIGKILLed): those whose run token's .alive file is not locked, and
/// that file. Never touches a live process's names; returns how many it removed.
int reap_stale_named_segments();
/// Counts the names this process created under its token (SharedSegment
/// calls it on create and unlink); with none left, the .alive file goes too.
void note_named_segment(const std::string& name, bool created) noexcept;
/// In a forked child, before anything else: forgets the parent's run token
/// (without taking a lock another parent thread may have held at the fork).
void forget_run_token_after_fork() noexcept;

/// Faults every page of [data, data + bytes) into this process's page tables
/// (MADV_POPULATE_WRITE, or a touch per page on older kernels).
void prefault_pages(std::byte* data, size_t bytes) noexcept;

/// Rounds up to a multiple of the page size.
size_t round_up_to_page(size_t bytes);

}  // namespace ferry::workers
