#pragma once
// What a process holds that a loader must give back: open fds, threads,
// child processes and /dev/shm entries. Tests take one before and after.
#include <sys/types.h>

#include <string>
#include <vector>

namespace ferry::testing {

struct Census {
  int fds = 0;
  int threads = 0;
  std::vector<pid_t> children;           // including zombies
  std::vector<std::string> shm_entries;  // ferry's names of this process, its children, or dead creators
  int memfd_mappings = 0;                // /memfd:ferry-* lines in /proc/self/maps
};

Census take_census();
// Waits (up to `seconds`) for the census to return to `before`; returns a
// description of what is still different, or "" when nothing is.
std::string wait_until_clean(const Census& before, double seconds = 3.0);

// True if `pid` exists and is not a zombie.
bool process_alive(pid_t pid);
std::string process_name(pid_t pid);

}  // namespace ferry::testing
