#pragma once
/// ferry's public exception hierarchy. Every message is self-contained: what
/// happened, where (worker, pid, sample, path) and what to do about it.
///
///   Error                      base of everything ferry throws
///   ├── InvalidOption          a bad option value, caught at construction
///   ├── SystemError            an OS call failed (carries errno)
///   ├── WorkerCrashed          a worker process died (pid, signal or status)
///   ├── SampleFailed           producing one sample failed (index, worker)
///   ├── Timeout                a worker made no progress within `timeout`
///   ├── DataError              a dataset file is malformed or corrupt
///   ├── BadSample              one sample's bytes are unreadable (corrupt JPEG);
///   │                          the loader's OnBadSample policy decides its fate
///   └── ProtocolError          a message between ferry's processes is malformed
#include <cerrno>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace ferry {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class InvalidOption : public Error {
 public:
  using Error::Error;
};

class SystemError : public Error {
 public:
  /// `what_failed` names the call and its object, e.g. "memfd_create(ferry-w0)".
  SystemError(const std::string& what_failed, int err);
  int code() const noexcept { return code_; }

 private:
  int code_;
};

class WorkerCrashed : public Error {
 public:
  WorkerCrashed(const std::string& message, int worker_id, int pid, int signal)
      : Error(message), worker_id_(worker_id), pid_(pid), signal_(signal) {}
  int worker_id() const noexcept { return worker_id_; }
  int pid() const noexcept { return pid_; }
  /// The signal that killed the worker, or 0 when it exited with a status.
  int signal() const noexcept { return signal_; }

 private:
  int worker_id_;
  int pid_;
  int signal_;
};

class SampleFailed : public Error {
 public:
  SampleFailed(const std::string& message, int worker_id, int64_t sample_index)
      : Error(message), worker_id_(worker_id), sample_index_(sample_index) {}
  /// The worker that ran the sample; -1 for the calling thread (num_workers 0).
  int worker_id() const noexcept { return worker_id_; }
  int64_t sample_index() const noexcept { return sample_index_; }

 private:
  int worker_id_;
  int64_t sample_index_;
};

class Timeout : public Error {
 public:
  using Error::Error;
};

class DataError : public Error {
 public:
  using Error::Error;
};

/// Thrown by a dataset or transform for input it cannot use (corrupt,
/// truncated, not an image, too large). Unlike other exceptions it is subject to
/// the loader's OnBadSample policy (error, skip or substitute).
class BadSample : public Error {
 public:
  using Error::Error;
};

class ProtocolError : public Error {
 public:
  using Error::Error;
};

/// "SIGSEGV" for 11; "signal 77" for numbers without a name.
std::string signal_name(int signal);

/// "this process is at its open-file limit (RLIMIT_NOFILE = 1024): raise it
/// (ulimit -n) or close files it no longer needs": for errors about fds.
std::string open_file_limit_text();

/// Throws SystemError(what_failed, errno) when `result` is -1.
inline long check_syscall(long result, const char* what_failed) {
  if (result == -1) throw SystemError(what_failed, errno);
  return result;
}

}  // namespace ferry
