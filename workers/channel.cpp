#include "workers/channel.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "base/error.h"

namespace ferry::workers {

std::pair<Channel, Channel> Channel::make_pair() {
  int fds[2];
  check_syscall(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), "socketpair(AF_UNIX, SOCK_SEQPACKET)");
  for (int fd : fds) {
    // Trace events and long index lists make some messages large; the default
    // buffer (~200 KiB) would cap a single SEQPACKET message below kMaxMessage.
    int size = static_cast<int>(kMaxMessage) * 2;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  return {Channel(UniqueFd(fds[0])), Channel(UniqueFd(fds[1]))};
}

bool Channel::send(std::span<const std::byte> message, int fd_to_pass) {
  if (message.size() > kMaxMessage)
    throw Error("ferry: internal message of " + std::to_string(message.size()) + " bytes exceeds the channel limit");
  iovec iov{const_cast<std::byte*>(message.data()), message.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  if (fd_to_pass >= 0) {
    std::memset(control, 0, sizeof control);
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd_to_pass, sizeof(int));
  }
  for (;;) {
    if (sendmsg(fd_.get(), &msg, MSG_NOSIGNAL) >= 0) return true;
    if (errno == EINTR) continue;
    if (errno == EPIPE || errno == ECONNRESET) return false;
    throw SystemError("sendmsg(worker channel)", errno);
  }
}

bool Channel::receive(std::vector<std::byte>& buffer, UniqueFd* received_fd, bool nonblocking, bool* would_block) {
  if (would_block) *would_block = false;
  buffer.resize(kMaxMessage);
  iovec iov{buffer.data(), buffer.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  for (;;) {
    n = recvmsg(fd_.get(), &msg, MSG_CMSG_CLOEXEC | (nonblocking ? MSG_DONTWAIT : 0));
    if (n >= 0) break;
    if (errno == EINTR) continue;
    if (nonblocking && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (would_block) *would_block = true;
      buffer.clear();
      return false;
    }
    if (errno == ECONNRESET)
      n = 0;
    else
      throw SystemError("recvmsg(worker channel)", errno);
    break;
  }
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
      UniqueFd owned(fd);
      if (received_fd) *received_fd = std::move(owned);
    }
  }
  if (msg.msg_flags & MSG_TRUNC) throw Error("ferry: worker message truncated (larger than the channel limit)");
  buffer.resize(static_cast<size_t>(n));
  // A zero-length read on SEQPACKET is the peer's orderly close; ferry never
  // sends empty messages.
  return n > 0;
}

}  // namespace ferry::workers
