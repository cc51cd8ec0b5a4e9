#include "tools/bench/tree_memory.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

namespace ferry::bench {

uint64_t process_rss_bytes(int pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/status";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[4096];
  const ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
  ::close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  const char* line = std::strstr(buf, "\nVmRSS:");
  if (!line) return 0;
  // "VmRSS:	  123456 kB"
  return std::strtoull(line + 7, nullptr, 10) * 1024;
}

void TreeMemory::sample(const std::vector<int>& pids) {
  uint64_t total = process_rss_bytes(static_cast<int>(getpid()));
  for (int pid : pids) total += process_rss_bytes(pid);
  peak_ = std::max(peak_, total);
}

void TreeMemory::finish() {
  rusage self{};
  if (getrusage(RUSAGE_SELF, &self) == 0) peak_ = std::max(peak_, static_cast<uint64_t>(self.ru_maxrss) * 1024);
}

}  // namespace ferry::bench
