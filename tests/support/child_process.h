#pragma once
// A tool run as a child process with its stdout and stderr captured in
// files, for the tests that run ferry's programs (exit codes, reports,
// signals, profiler hooks).
#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

namespace ferry::testing {

struct ChildOutput {
  int exit_code = -1;   // 128 + the signal when one killed it
  bool killed = false;  // a signal ended it
  std::string out;
  std::string err;
};

class ChildProcess {
 public:
  // Starts `exe` with `args`; stdout and stderr go to `dir`/stdout.txt and
  // stderr.txt (an earlier child's files there are removed first); `env` sets
  // variables for the child only.
  ChildProcess(const std::string& exe, const std::vector<std::string>& args, const std::string& dir,
               const std::vector<std::pair<std::string, std::string>>& env = {});
  ~ChildProcess();  // kills and reaps a child nobody waited for
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // What it has written to stdout so far.
  std::string out_so_far() const;
  // Waits for it to end and collects what it wrote.
  ChildOutput wait();

 private:
  pid_t pid_ = -1;
  std::string out_path_;
  std::string err_path_;
};

// Starts and waits: the whole run of one command.
ChildOutput run_child(const std::string& exe, const std::vector<std::string>& args, const std::string& dir,
                      const std::vector<std::pair<std::string, std::string>>& env = {});

// The text of a file, "" when it cannot be read.
std::string read_text_file(const std::string& path);

}  // namespace ferry::testing
