#include "workers/shared_segment.h"

#include <fcntl.h>
#include <unistd.h>

#include <sys/mman.h>
#include <sys/statvfs.h>
#include <atomic>
#include <cstdlib>
#include <cstring>

#include <cerrno>
#include <cstdio>
#include <utility>

#include "base/error.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

namespace ferry::workers {

std::string format_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
  return buf;
}

size_t round_up_to_page(size_t bytes) {
  const size_t page = 4096;
  return (bytes + page - 1) / page * page;
}

namespace {

// Every mapping of a segment: not inherited by a fork (a forked worker maps
// its own arena from the fd and nothing of any other pool), and not written
// into core dumps (gigabytes of batch slots).
std::byte* map_segment(int fd, size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return nullptr;
  madvise(p, bytes, MADV_DONTFORK);
  madvise(p, bytes, MADV_DONTDUMP);
  return static_cast<std::byte*>(p);
}

std::string shm_advice(size_t bytes) {
  std::string free_text = "unknown";
  struct statvfs st;
  if (statvfs("/dev/shm", &st) == 0) free_text = format_bytes(double(st.f_bavail) * double(st.f_frsize));
  return " (needed " + format_bytes(double(bytes)) + ", /dev/shm has " + free_text +
         " free). Use fewer workers, a smaller prefetch_factor or batch_size, or give the machine more shared "
         "memory (e.g. docker run --shm-size=8g).";
}

}  // namespace

SharedSegment SharedSegment::create(const std::string& name, size_t bytes, const std::string& purpose) {
  SharedSegment s;
  s.fd_.reset(static_cast<int>(check_syscall(memfd_create(name.c_str(), MFD_CLOEXEC), "memfd_create")));
  s.size_ = bytes;
  if (bytes == 0) return s;
  int err = posix_fallocate(s.fd_.get(), 0, static_cast<off_t>(bytes));
  if (err != 0) {
    throw SystemError("reserving shared memory for " + purpose + shm_advice(bytes) + " fallocate", err);
  }
  s.data_ = map_segment(s.fd_.get(), bytes);
  if (!s.data_) throw SystemError("mapping shared memory for " + purpose + shm_advice(bytes) + " mmap", errno);
  return s;
}

SharedSegment SharedSegment::map(UniqueFd fd, size_t bytes) {
  SharedSegment s;
  s.fd_ = std::move(fd);
  s.size_ = bytes;
  if (bytes == 0) return s;
  s.data_ = map_segment(s.fd_.get(), bytes);
  if (!s.data_) throw SystemError("mmap(a shared segment of " + format_bytes(double(bytes)) + ")", errno);
  return s;
}

SharedSegment SharedSegment::create_named(const std::string& name, size_t bytes, const std::string& purpose) {
  SharedSegment s;
  const std::string path = "/" + name;
  s.fd_.reset(shm_open(path.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600));
  if (!s.fd_.valid()) throw SystemError("shm_open(" + path + ") for " + purpose, errno);
  s.name_ = name;
  note_named_segment(name, true);
  s.size_ = bytes;
  const int err = posix_fallocate(s.fd_.get(), 0, static_cast<off_t>(bytes));
  if (err != 0) {
    s.unlink_name();
    throw SystemError("reserving shared memory for " + purpose + shm_advice(bytes) + " fallocate", err);
  }
  s.data_ = map_segment(s.fd_.get(), bytes);
  if (!s.data_) {
    const int e = errno;
    s.unlink_name();
    throw SystemError("mapping shared memory for " + purpose + shm_advice(bytes) + " mmap", e);
  }
  return s;
}

SharedSegment SharedSegment::open_named(const std::string& name, size_t bytes) {
  const std::string path = "/" + name;
  UniqueFd fd(shm_open(path.c_str(), O_RDWR | O_CLOEXEC, 0));
  if (!fd.valid()) throw SystemError("shm_open(" + path + ")", errno);
  SharedSegment s = map(std::move(fd), bytes);
  s.name_ = name;
  return s;
}

bool SharedSegment::unlink_name() noexcept {
  if (name_.empty()) return false;
  const bool ok = shm_unlink(("/" + name_).c_str()) == 0;
  note_named_segment(name_, false);
  name_.clear();
  return ok;
}

SharedSegment::SharedSegment(SharedSegment&& o) noexcept
    : fd_(std::move(o.fd_)),
      name_(std::move(o.name_)),
      data_(std::exchange(o.data_, nullptr)),
      size_(std::exchange(o.size_, 0)) {}

SharedSegment& SharedSegment::operator=(SharedSegment&& o) noexcept {
  if (this != &o) {
    if (data_) munmap(data_, size_);
    fd_ = std::move(o.fd_);
    name_ = std::move(o.name_);
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
  }
  return *this;
}

SharedSegment::~SharedSegment() {
  if (data_) munmap(data_, size_);
}

void prefault_pages(std::byte* data, size_t bytes) noexcept {
  if (!data || bytes == 0) return;
  if (madvise(data, bytes, MADV_POPULATE_WRITE) == 0) return;
  // Older kernels: touch one byte per page (the pages are ours, so a write of
  // the value already there is harmless).
  volatile std::byte* p = data;
  for (size_t off = 0; off < bytes; off += 4096) p[off] = p[off];
}

}  // namespace ferry::workers
