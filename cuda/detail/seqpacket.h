#pragma once
/// The few AF_UNIX/SOCK_SEQPACKET calls CUDA IPC needs: listen, accept and
/// connect by name, one message per send/receive, timeouts by poll(). A name
/// starting with '@' lives in Linux's abstract namespace (no file, nothing to
/// clean up); any other name is a filesystem path.
#include <cstddef>
#include <string>

#include "base/unique_fd.h"

namespace ferry::cuda::detail {

/// A listening socket (close-on-exec). A stale socket file left by a dead
/// server is replaced; a live one is an error.
UniqueFd listen_seqpacket(const std::string& name);
/// One connection, or an invalid fd when none arrived within `timeout_ms`.
UniqueFd accept_seqpacket(int listen_fd, int timeout_ms);
/// Connects, retrying while nobody listens yet, up to `timeout_ms`; throws
/// ferry::Timeout then.
UniqueFd connect_seqpacket(const std::string& name, int timeout_ms);

enum class Received { kMessage, kTimeout, kEof };

/// Sends one message; false when the peer has gone (no SIGPIPE).
bool send_message(int fd, const void* data, size_t bytes);
/// Receives one message of at most `capacity` bytes into `buffer`, waiting up
/// to `timeout_ms` (-1: forever). A longer message is an error (ferry::Error).
Received receive_message(int fd, void* buffer, size_t capacity, size_t* received, int timeout_ms);

}  // namespace ferry::cuda::detail
