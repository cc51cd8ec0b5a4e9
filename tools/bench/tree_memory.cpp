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

double process_cpu_seconds(int pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[1024];
  const ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
  ::close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  // "pid (comm) state ppid ...": comm may hold spaces; fields 14 and 15
  // (utime, stime) are the 12th and 13th after the closing parenthesis.
  const char* p = std::strrchr(buf, ')');
  if (!p) return 0;
  ++p;
  for (int field = 0; field < 11 && p; ++field) p = std::strchr(p + 1, ' ');
  if (!p) return 0;
  char* end = nullptr;
  const unsigned long long utime = std::strtoull(p + 1, &end, 10);
  const unsigned long long stime = std::strtoull(end, nullptr, 10);
  return double(utime + stime) / double(sysconf(_SC_CLK_TCK));
}

double self_cpu_seconds() {
  rusage u{};
  if (getrusage(RUSAGE_SELF, &u) != 0) return 0;
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
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
