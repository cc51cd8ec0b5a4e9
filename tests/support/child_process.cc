#include "tests/support/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace ferry::testing {

std::string read_text_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

ChildProcess::ChildProcess(const std::string& exe, const std::vector<std::string>& args, const std::string& dir,
                           const std::vector<std::pair<std::string, std::string>>& env)
    : out_path_(dir + "/stdout.txt"), err_path_(dir + "/stderr.txt") {
  // Gone before the child starts, so nobody reads the last run's output.
  std::filesystem::remove(out_path_);
  std::filesystem::remove(err_path_);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(exe.c_str()));
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_ = fork();
  if (pid_ != 0) return;
  const int out = ::open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const int err = ::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (out < 0 || err < 0) _exit(126);
  dup2(out, STDOUT_FILENO);
  dup2(err, STDERR_FILENO);
  for (const auto& [name, value] : env) setenv(name.c_str(), value.c_str(), 1);
  execv(exe.c_str(), argv.data());
  _exit(127);
}

ChildProcess::~ChildProcess() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
}

std::string ChildProcess::out_so_far() const { return read_text_file(out_path_); }

ChildOutput ChildProcess::wait() {
  ChildOutput o;
  int status = 0;
  if (pid_ <= 0 || waitpid(pid_, &status, 0) != pid_) return o;
  pid_ = -1;
  o.killed = WIFSIGNALED(status);
  o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  o.out = read_text_file(out_path_);
  o.err = read_text_file(err_path_);
  return o;
}

ChildOutput run_child(const std::string& exe, const std::vector<std::string>& args, const std::string& dir,
                      const std::vector<std::pair<std::string, std::string>>& env) {
  ChildProcess child(exe, args, dir, env);
  return child.wait();
}

}  // namespace ferry::testing
