#pragma once
/// One end of an AF_UNIX/SOCK_SEQPACKET socketpair: message boundaries are
/// kept, a file descriptor can ride along (SCM_RIGHTS), and the peer's death
/// shows up as end-of-file.
#include <cstddef>
#include <span>
#include <utility>
#include <vector>

#include "base/unique_fd.h"

namespace ferry::workers {

class Channel {
 public:
  /// The largest message a channel carries; both ends size their buffers to it.
  static constexpr size_t kMaxMessage = 1 << 20;

  Channel() = default;
  explicit Channel(UniqueFd fd) : fd_(std::move(fd)) {}

  /// Two connected ends (close-on-exec).
  static std::pair<Channel, Channel> make_pair();

  /// Sends one message, optionally with `fd_to_pass`. Blocks while the socket
  /// buffer is full. Returns false if the peer has gone (EPIPE/ECONNRESET).
  bool send(std::span<const std::byte> message, int fd_to_pass = -1);

  /// Receives one message into `buffer` (resized to fit). A passed fd lands in
  /// `*received_fd` (closed if `received_fd` is null). Returns false on EOF.
  /// With `nonblocking`, returns false and sets `*would_block` when empty.
  bool receive(std::vector<std::byte>& buffer, UniqueFd* received_fd = nullptr, bool nonblocking = false,
               bool* would_block = nullptr);

  int fd() const { return fd_.get(); }
  bool valid() const { return fd_.valid(); }
  void close() { fd_.reset(); }

 private:
  UniqueFd fd_;
};

}  // namespace ferry::workers
