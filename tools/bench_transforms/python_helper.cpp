#include "tools/bench_transforms/python_helper.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

extern char** environ;

namespace ferry::bench_transforms {
namespace {

std::string read_line(std::FILE* f) {
  std::string line;
  for (int c; (c = std::fgetc(f)) != EOF && c != '\n';) line += static_cast<char>(c);
  return line;
}

}  // namespace

PythonHelper::PythonHelper(const std::string& python, const std::string& script, const std::string& list_dir) {
  int in[2], out[2];
  if (pipe(in) != 0 || pipe(out) != 0) {
    why_ = std::string("pipe: ") + std::strerror(errno);
    return;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  for (int fd : {in[0], in[1], out[0], out[1]}) posix_spawn_file_actions_addclose(&actions, fd);
  std::vector<char*> argv = {const_cast<char*>(python.c_str()), const_cast<char*>(script.c_str()),
                             const_cast<char*>(list_dir.c_str()), nullptr};
  const int rc = posix_spawnp(&pid_, python.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(in[0]);
  ::close(out[1]);
  to_ = fdopen(in[1], "w");
  from_ = fdopen(out[0], "r");
  if (rc != 0) {
    pid_ = -1;
    why_ = "cannot start " + python + ": " + std::strerror(rc);
    return;
  }
  const std::string ready = read_line(from_);
  if (ready.rfind("ready", 0) != 0) {
    why_ = python + " " + script + " did not start (does it have Pillow? scripts/setup installs python3-pil)";
    return;
  }
  std::istringstream words(ready.substr(5));
  for (std::string m; words >> m;) modes_.push_back(m);
}

PythonHelper::~PythonHelper() {
  if (to_) std::fclose(to_);  // EOF on its stdin: the helper's loop ends
  if (from_) std::fclose(from_);
  if (pid_ > 0) {
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

std::optional<PassTiming> PythonHelper::run(const std::string& mode) {
  if (modes_.empty()) return std::nullopt;
  std::fprintf(to_, "%s\n", mode.c_str());
  std::fflush(to_);
  std::istringstream reply(read_line(from_));
  std::string name, images;
  reply >> name >> images;
  PassTiming t;
  if (name != mode || images == "error" || images.empty() || !(std::istringstream(images) >> t.images) ||
      !(reply >> t.cpu_seconds >> t.wall_seconds)) {
    why_ = "python mode " + mode + " failed: " + reply.str();
    return std::nullopt;
  }
  return t;
}

}  // namespace ferry::bench_transforms
