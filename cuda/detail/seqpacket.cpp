#include "cuda/detail/seqpacket.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "base/error.h"

namespace ferry::cuda::detail {
namespace {

socklen_t make_address(const std::string& name, sockaddr_un* addr) {
  std::memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  if (name.empty() || name.size() >= sizeof addr->sun_path) {
    throw InvalidOption("CUDA IPC socket name '" + name + "' must have 1.." +
                        std::to_string(sizeof addr->sun_path - 1) + " characters");
  }
  std::memcpy(addr->sun_path, name.data(), name.size());
  if (name[0] == '@') {
    addr->sun_path[0] = '\0';  // abstract: the length, not a NUL, ends the name
    return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
  }
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() + 1);
}

UniqueFd new_socket() {
  return UniqueFd(static_cast<int>(check_syscall(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), "socket")));
}

// True when `fd` is readable (or closed) within `timeout_ms`.
bool wait_readable(int fd, int timeout_ms, const char* what) {
  pollfd p{fd, POLLIN, 0};
  for (;;) {
    const int r = ::poll(&p, 1, timeout_ms);
    if (r >= 0) return r > 0;
    if (errno != EINTR) throw SystemError(what, errno);
  }
}

}  // namespace

UniqueFd listen_seqpacket(const std::string& name) {
  sockaddr_un addr;
  const socklen_t len = make_address(name, &addr);
  UniqueFd fd = new_socket();
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    const int err = errno;
    struct stat st;
    // A socket file nobody answers on was left by a dead server: replace it.
    if (err == EADDRINUSE && name[0] != '@' && ::stat(name.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
      UniqueFd probe = new_socket();
      if (::connect(probe.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0 && errno == ECONNREFUSED) {
        ::unlink(name.c_str());
        check_syscall(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len), ("bind(" + name + ")").c_str());
        check_syscall(::listen(fd.get(), 16), ("listen(" + name + ")").c_str());
        return fd;
      }
    }
    throw SystemError("bind(" + name + ")", err);
  }
  check_syscall(::listen(fd.get(), 16), ("listen(" + name + ")").c_str());
  return fd;
}

UniqueFd accept_seqpacket(int listen_fd, int timeout_ms) {
  if (!wait_readable(listen_fd, timeout_ms, "poll(CUDA IPC listen socket)")) return UniqueFd();
  for (;;) {
    const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) return UniqueFd(fd);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == ECONNABORTED) return UniqueFd();
    throw SystemError("accept4(CUDA IPC socket)", errno);
  }
}

UniqueFd connect_seqpacket(const std::string& name, int timeout_ms) {
  sockaddr_un addr;
  const socklen_t len = make_address(name, &addr);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    UniqueFd fd = new_socket();
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) == 0) return fd;
    const int err = errno;
    if (err != ENOENT && err != ECONNREFUSED && err != EINTR && err != EAGAIN) {
      throw SystemError("connect(" + name + ")", err);
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      throw Timeout("CUDA IPC: nobody listens on '" + name + "' after " + std::to_string(timeout_ms) +
                    " ms (is the producer running?)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

bool send_message(int fd, const void* data, size_t bytes) {
  for (;;) {
    const ssize_t n = ::send(fd, data, bytes, MSG_NOSIGNAL);
    if (n >= 0) return true;
    if (errno == EINTR) continue;
    if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN) return false;
    throw SystemError("send(CUDA IPC socket)", errno);
  }
}

Received receive_message(int fd, void* buffer, size_t capacity, size_t* received, int timeout_ms) {
  if (!wait_readable(fd, timeout_ms, "poll(CUDA IPC socket)")) return Received::kTimeout;
  for (;;) {
    const ssize_t n = ::recv(fd, buffer, capacity, MSG_TRUNC | MSG_DONTWAIT);
    if (n > 0) {
      if (static_cast<size_t>(n) > capacity) {
        throw Error("CUDA IPC: message of " + std::to_string(n) + " bytes is longer than any ferry message (" +
                    std::to_string(capacity) + "); is the peer a ferry process of the same version?");
      }
      *received = static_cast<size_t>(n);
      return Received::kMessage;
    }
    if (n == 0) return Received::kEof;
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return Received::kTimeout;  // woken without data
    if (errno == ECONNRESET) return Received::kEof;
    throw SystemError("recv(CUDA IPC socket)", errno);
  }
}

}  // namespace ferry::cuda::detail
