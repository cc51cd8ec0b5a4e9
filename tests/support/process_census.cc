#include "tests/support/process_census.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace ferry::testing {
namespace {

std::vector<std::string> list_dir(const char* path) {
  std::vector<std::string> out;
  if (DIR* d = opendir(path)) {
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") out.push_back(n);
    }
    closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string stat_field_state_and_ppid(pid_t pid, pid_t* ppid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(f, line);
  const auto close = line.rfind(')');
  if (close == std::string::npos) return "";
  std::istringstream rest(line.substr(close + 2));
  std::string state;
  rest >> state >> *ppid;
  return state;
}

}  // namespace

Census take_census() {
  Census c;
  c.fds = int(list_dir("/proc/self/fd").size()) - 1;  // minus the one opendir uses
  c.threads = int(list_dir("/proc/self/task").size());
  const pid_t self = getpid();
  for (const auto& name : list_dir("/proc")) {
    if (!std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    pid_t ppid = 0;
    if (!stat_field_state_and_ppid(std::stoi(name), &ppid).empty() && ppid == self)
      c.children.push_back(std::stoi(name));
  }
  // Only ferry names of this process tree: another test binary running at the
  // same time (ctest -j) makes and removes names of its own. A dead creator's
  // names count too (they are what a leak looks like).
  for (const auto& name : list_dir("/dev/shm")) {
    if (name.rfind("ferry-", 0) != 0) continue;
    const pid_t creator = pid_t(std::atol(name.c_str() + 6));
    pid_t ppid = 0;
    const bool running = !stat_field_state_and_ppid(creator, &ppid).empty();
    if (creator == self || ppid == self || !running) c.shm_entries.push_back(name);
  }
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);)
    if (line.find("/memfd:ferry") != std::string::npos) ++c.memfd_mappings;
  return c;
}

std::string wait_until_clean(const Census& before, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  for (;;) {
    const Census now = take_census();
    std::string diff;
    if (now.fds != before.fds) diff += "fds " + std::to_string(before.fds) + " -> " + std::to_string(now.fds) + "; ";
    if (now.threads != before.threads)
      diff += "threads " + std::to_string(before.threads) + " -> " + std::to_string(now.threads) + "; ";
    if (now.children != before.children) diff += "children " + std::to_string(now.children.size()) + " left; ";
    if (now.shm_entries != before.shm_entries) diff += "/dev/shm entries changed; ";
    if (now.memfd_mappings != before.memfd_mappings)
      diff += "ferry mappings " + std::to_string(before.memfd_mappings) + " -> " + std::to_string(now.memfd_mappings) +
              "; ";
    if (diff.empty() || std::chrono::steady_clock::now() > deadline) return diff;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

bool process_alive(pid_t pid) {
  pid_t ppid = 0;
  const std::string state = stat_field_state_and_ppid(pid, &ppid);
  return !state.empty() && state != "Z" && state != "X";
}

std::string process_name(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(f, name);
  return name;
}

}  // namespace ferry::testing
