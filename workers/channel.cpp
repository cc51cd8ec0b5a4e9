#include "workers/channel.h"

#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/error.h"

namespace ferry::workers {
namespace {

// Every datagram starts with one of these: the message follows inline, or it
// is in the first fd that came along (and the sender's fd, if any, second).
enum class Frame : uint32_t { kInline = 0, kOutOfLine = 1 };

struct OutOfLineHeader {
  Frame frame;
  uint32_t has_fd;
  uint64_t bytes;
};

constexpr size_t kHeader = sizeof(Frame);

size_t socket_inline_limit(int fd) {
  int sndbuf = 0;
  socklen_t len = sizeof sndbuf;
  if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len) != 0 || sndbuf <= 0) return 4096;
  // A SEQPACKET datagram must fit the send buffer with the kernel's overhead.
  return std::clamp<size_t>(size_t(sndbuf) / 2, 4096, Channel::kMaxInline);
}

bool send_datagram(int socket, std::span<const iovec> iov, std::span<const int> fds, int flags) {
  msghdr msg{};
  msg.msg_iov = const_cast<iovec*>(iov.data());
  msg.msg_iovlen = iov.size();
  alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))];
  if (!fds.empty()) {
    std::memset(control, 0, sizeof control);
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(fds.size() * sizeof(int));
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(fds.size() * sizeof(int));
    std::memcpy(CMSG_DATA(c), fds.data(), fds.size() * sizeof(int));
  }
  for (;;) {
    if (sendmsg(socket, &msg, MSG_NOSIGNAL | flags) >= 0) return true;
    if (errno == EINTR) continue;
    if (errno == EPIPE || errno == ECONNRESET) return false;
    if ((flags & MSG_DONTWAIT) && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
    throw SystemError("sendmsg(worker channel)", errno);
  }
}

UniqueFd write_to_memfd(std::span<const std::byte> message) {
  UniqueFd fd(memfd_create("ferry-message", MFD_CLOEXEC));
  if (!fd.valid()) throw SystemError("memfd_create(a message of " + std::to_string(message.size()) + " bytes)", errno);
  size_t done = 0;
  while (done < message.size()) {
    const ssize_t n = write(fd.get(), message.data() + done, message.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw SystemError("write(a message of " + std::to_string(message.size()) + " bytes to a memfd)", errno);
    done += size_t(n);
  }
  return fd;
}

}  // namespace

Channel::Channel(UniqueFd fd) : fd_(std::move(fd)) {
  if (fd_.valid()) inline_limit_ = socket_inline_limit(fd_.get());
}

std::pair<Channel, Channel> Channel::make_pair() {
  int fds[2];
  check_syscall(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), "socketpair(AF_UNIX, SOCK_SEQPACKET)");
  return {Channel(UniqueFd(fds[0])), Channel(UniqueFd(fds[1]))};
}

bool Channel::send(std::span<const std::byte> message, int fd_to_pass) {
  if (message.size() <= inline_limit_) {
    Frame frame = Frame::kInline;
    const iovec iov[2] = {{&frame, kHeader}, {const_cast<std::byte*>(message.data()), message.size()}};
    const int fds[1] = {fd_to_pass};
    return send_datagram(fd_.get(), iov, std::span(fds, fd_to_pass >= 0 ? 1 : 0), 0);
  }
  const UniqueFd body = write_to_memfd(message);
  OutOfLineHeader header{Frame::kOutOfLine, fd_to_pass >= 0 ? 1u : 0u, message.size()};
  const iovec iov[1] = {{&header, sizeof header}};
  const int fds[2] = {body.get(), fd_to_pass};
  return send_datagram(fd_.get(), iov, std::span(fds, fd_to_pass >= 0 ? 2 : 1), 0);
}

bool Channel::try_send(std::span<const std::byte> message) noexcept {
  if (message.size() > inline_limit_) return false;
  Frame frame = Frame::kInline;
  const iovec iov[2] = {{&frame, kHeader}, {const_cast<std::byte*>(message.data()), message.size()}};
  try {
    return send_datagram(fd_.get(), iov, {}, MSG_DONTWAIT);
  } catch (...) {
    return false;
  }
}

Channel::Received Channel::receive(bool nonblocking) {
  Received out;
  if (!inline_buffer_) inline_buffer_.reset(new std::byte[kHeader + kMaxInline]);
  iovec iov{inline_buffer_.get(), kHeader + kMaxInline};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))];
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  for (;;) {
    n = recvmsg(fd_.get(), &msg, MSG_CMSG_CLOEXEC | (nonblocking ? MSG_DONTWAIT : 0));
    if (n >= 0) break;
    if (errno == EINTR) continue;
    if (nonblocking && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      out.status = Received::Status::kWouldBlock;
      return out;
    }
    if (errno == ECONNRESET) return out;  // kEof
    throw SystemError("recvmsg(worker channel)", errno);
  }
  UniqueFd fds[2];
  size_t nfds = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      UniqueFd owned(fd);  // closed unless kept below
      if (nfds < 2) fds[nfds++] = std::move(owned);
    }
  }
  out.fd_lost = (msg.msg_flags & MSG_CTRUNC) != 0;
  // A zero-length datagram is the peer's orderly close; ferry never sends one.
  if (n == 0) return out;
  if (msg.msg_flags & MSG_TRUNC)
    throw ProtocolError("ferry: a worker-channel datagram was larger than any ferry sends");
  if (size_t(n) < kHeader) throw ProtocolError("ferry: a worker-channel datagram without its frame header");
  Frame frame;
  std::memcpy(&frame, inline_buffer_.get(), kHeader);
  out.status = Received::Status::kMessage;
  if (frame == Frame::kInline) {
    out.message = {inline_buffer_.get() + kHeader, size_t(n) - kHeader};
    out.fd = std::move(fds[0]);
    return out;
  }
  OutOfLineHeader header;
  if (frame != Frame::kOutOfLine || size_t(n) != sizeof header)
    throw ProtocolError("ferry: a worker-channel datagram with an unknown frame");
  std::memcpy(&header, inline_buffer_.get(), sizeof header);
  // Only the kernel drops fds (MSG_CTRUNC), and only at the open-file limit.
  if (nfds == 0) {
    if (!out.fd_lost) throw ProtocolError("ferry: an out-of-line message arrived without its memfd");
    out.status = Received::Status::kLost;
    return out;
  }
  if (header.has_fd && nfds < 2 && !out.fd_lost)
    throw ProtocolError("ferry: an out-of-line message arrived without the fd it carries");
  large_buffer_.resize(header.bytes);
  size_t done = 0;
  while (done < header.bytes) {
    const ssize_t r = pread(fds[0].get(), large_buffer_.data() + done, header.bytes - done, off_t(done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) throw ProtocolError("ferry: an out-of-line message is shorter than its header says");
    done += size_t(r);
  }
  out.message = large_buffer_;
  if (header.has_fd && nfds == 2) out.fd = std::move(fds[1]);
  return out;
}

}  // namespace ferry::workers
