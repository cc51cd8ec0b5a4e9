// Names and stale-name reaping of the file_system sharing strategy.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdio>
#include <map>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "base/error.h"
#include "workers/detail/fork_registry.h"
#include "workers/shared_segment.h"

namespace ferry::workers {
namespace {

constexpr const char* kShmDir = "/dev/shm/";
constexpr size_t kTokenChars = 16;

// This process's run token and the locked .alive file that vouches for it.
struct RunToken {
  std::mutex mutex;
  pid_t pid = 0;       // the process the token belongs to; 0: none yet
  std::string prefix;  // "ferry-<pid>-<token>"
  int alive_fd = -1;
  int live_names = 0;  // segments this process created under the token, not yet unlinked
};

RunToken& token_state() {
  static RunToken* t = new RunToken;  // never destroyed: names are made until exit
  return *t;
}

std::string random_token() {
  uint64_t v = 0;
  if (getrandom(&v, sizeof v, 0) != sizeof v) v = uint64_t(getpid()) * 0x9e3779b97f4a7c15ull ^ uint64_t(time(nullptr));
  char buf[kTokenChars + 1];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// Creates and locks the .alive file; if a reaper removed it between the
// create and the lock, the path no longer names our file: make it again.
int create_alive_file(const std::string& prefix) {
  const std::string path = kShmDir + prefix + ".alive";
  for (int attempt = 0; attempt < 8; ++attempt) {
    const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) throw SystemError("open(" + path + ") to mark this process's shared-memory names as live", errno);
    if (flock(fd, LOCK_SH) != 0) {
      const int err = errno;
      close(fd);
      throw SystemError("flock(" + path + ")", err);
    }
    struct stat mine {
    }, named{};
    if (fstat(fd, &mine) == 0 && stat(path.c_str(), &named) == 0 && mine.st_ino == named.st_ino) return fd;
    close(fd);
  }
  throw Error("ferry: could not create " + path + ": it keeps disappearing (another process is removing it)");
}

// Drops the token once none of its names is left: nothing then needs vouching for.
void drop_token_if_unused(RunToken& t) {
  if (t.pid != getpid() || t.live_names > 0 || t.alive_fd < 0) return;
  unlink((kShmDir + t.prefix + ".alive").c_str());
  detail::unregister_parent_fd(t.alive_fd);
  close(t.alive_fd);
  t.alive_fd = -1;
  t.pid = 0;
  t.prefix.clear();
}

std::string token_prefix() {
  RunToken& t = token_state();
  std::lock_guard lock(t.mutex);
  if (t.pid != getpid() || t.alive_fd < 0) {
    const std::string prefix = "ferry-" + std::to_string(getpid()) + "-" + random_token();
    t.alive_fd = create_alive_file(prefix);
    detail::register_parent_fd(t.alive_fd);  // a forked worker must not hold our lock
    t.prefix = prefix;
    t.pid = getpid();
    t.live_names = 0;
  }
  return t.prefix;
}

// "ferry-<pid>-<token>" of a name in /dev/shm, or "" for names of another form.
std::string group_of(const std::string& name) {
  if (name.rfind("ferry-", 0) != 0) return {};
  const size_t dash = name.find('-', 6);
  if (dash == std::string::npos || dash == 6) return {};
  for (size_t i = 6; i < dash; ++i)
    if (name[i] < '0' || name[i] > '9') return {};
  const size_t end = dash + 1 + kTokenChars;
  if (name.size() < end) return {};
  for (size_t i = dash + 1; i < end; ++i)
    if (!std::isxdigit(static_cast<unsigned char>(name[i]))) return {};
  if (name.size() > end && name[end] != '-' && name[end] != '.') return {};
  return name.substr(0, end);
}

// True when the group's owner is gone: its .alive file is missing or
// nobody holds its lock. A held lock means a live owner in any pid namespace.
bool owner_gone(const std::string& group, int& lock_fd) {
  lock_fd = open((kShmDir + group + ".alive").c_str(), O_RDWR | O_CLOEXEC);
  if (lock_fd < 0) return errno == ENOENT;
  if (flock(lock_fd, LOCK_EX | LOCK_NB) == 0) return true;
  close(lock_fd);
  lock_fd = -1;
  return false;
}

}  // namespace

std::string segment_name(const std::string& what) {
  static std::atomic<uint64_t> counter{0};
  return token_prefix() + "-" + what + "-" + std::to_string(counter.fetch_add(1));
}

void note_named_segment(const std::string& name, bool created) noexcept {
  RunToken& t = token_state();
  std::lock_guard lock(t.mutex);
  if (t.pid != getpid() || name.rfind(t.prefix + "-", 0) != 0) return;  // not one of ours
  t.live_names += created ? 1 : -1;
  drop_token_if_unused(t);
}

void forget_run_token_after_fork() noexcept {
  RunToken& t = token_state();
  new (&t.mutex) std::mutex;  // a parent thread may have held it at the fork
  t.pid = 0;
  t.alive_fd = -1;  // the parent's; closed with the other inherited fds
  t.live_names = 0;
  t.prefix.clear();
}

int reap_stale_named_segments() {
  std::string own;
  {
    RunToken& t = token_state();
    std::lock_guard lock(t.mutex);
    if (t.pid == getpid()) own = t.prefix;
  }
  std::map<std::string, std::vector<std::string>> groups;
  if (DIR* dir = opendir(kShmDir)) {
    while (dirent* e = readdir(dir)) {
      const std::string name = e->d_name;
      const std::string group = group_of(name);
      if (!group.empty() && group != own) groups[group].push_back(name);
    }
    closedir(dir);
  }
  int removed = 0;
  for (const auto& [group, names] : groups) {
    int lock_fd = -1;
    if (!owner_gone(group, lock_fd)) continue;
    // The .alive file last: while it stands, another reaper also sees the group.
    for (const auto& n : names)
      if (n != group + ".alive" && unlink((kShmDir + n).c_str()) == 0) ++removed;
    if (lock_fd >= 0) {
      if (unlink((kShmDir + group + ".alive").c_str()) == 0) ++removed;
      close(lock_fd);
    }
  }
  return removed;
}

}  // namespace ferry::workers
