#include "workers/detail/fork_registry.h"

#include <algorithm>
#include <mutex>

namespace ferry::workers::detail {
namespace {
std::mutex g_mutex;
std::vector<int> g_fds;
}  // namespace

void register_parent_fd(int fd) {
  std::lock_guard lock(g_mutex);
  g_fds.push_back(fd);
}

void unregister_parent_fd(int fd) {
  std::lock_guard lock(g_mutex);
  g_fds.erase(std::remove(g_fds.begin(), g_fds.end(), fd), g_fds.end());
}

std::vector<int> registered_parent_fds() {
  std::lock_guard lock(g_mutex);
  return g_fds;
}

}  // namespace ferry::workers::detail
