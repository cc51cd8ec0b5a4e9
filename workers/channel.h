#pragma once
/// One end of an AF_UNIX/SOCK_SEQPACKET socketpair: message boundaries are
/// kept, a file descriptor can ride along (SCM_RIGHTS), and the peer's death
/// shows up as end-of-file.
///
/// Messages of any size travel: one up to inline_limit() bytes (64 KiB, or
/// less where the socket buffer is smaller) goes in a single datagram; a
/// larger one is written to a memfd that travels with a small header, so no
/// message is bounded by SO_SNDBUF. Receiving copies into a buffer the
/// channel keeps, so a message costs no allocation and no zero-filling.
#include <cstddef>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "base/unique_fd.h"

namespace ferry::workers {

class Channel {
 public:
  /// The largest message sent in one datagram, whatever the socket allows.
  static constexpr size_t kMaxInline = 64 << 10;

  Channel() = default;
  /// Takes `fd`, a connected SOCK_SEQPACKET socket.
  explicit Channel(UniqueFd fd);
  Channel(Channel&&) noexcept = default;
  Channel& operator=(Channel&&) noexcept = default;

  /// Two connected ends (close-on-exec).
  static std::pair<Channel, Channel> make_pair();

  /// Sends one message, optionally with `fd_to_pass`. Blocks while the socket
  /// buffer is full. Returns false if the peer has gone (EPIPE/ECONNRESET).
  bool send(std::span<const std::byte> message, int fd_to_pass = -1);
  /// Sends a message of at most inline_limit() bytes without blocking; false
  /// when the socket is full or the peer has gone.
  bool try_send(std::span<const std::byte> message) noexcept;

  struct Received {
    enum class Status {
      kMessage,     ///< `message` (and `fd`, if one came) hold it
      kEof,         ///< the peer closed its end or died
      kWouldBlock,  ///< nonblocking and nothing is waiting
      kLost         ///< a large message whose memfd the kernel dropped (see fd_lost)
    };
    Status status = Status::kEof;
    std::span<const std::byte> message;  ///< valid until the next receive
    UniqueFd fd;                         ///< the fd sent with it, if any
    /// The kernel dropped fds that came with the message (MSG_CTRUNC): this
    /// process is at its open-file limit (RLIMIT_NOFILE).
    bool fd_lost = false;
  };
  Received receive(bool nonblocking = false);

  size_t inline_limit() const { return inline_limit_; }
  int fd() const { return fd_.get(); }
  bool valid() const { return fd_.valid(); }
  void close() { fd_.reset(); }

 private:
  UniqueFd fd_;
  size_t inline_limit_ = kMaxInline;
  std::unique_ptr<std::byte[]> inline_buffer_;  // kMaxInline + header, allocated on first receive
  std::vector<std::byte> large_buffer_;         // the last out-of-line message
};

}  // namespace ferry::workers
