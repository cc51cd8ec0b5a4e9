#pragma once
// The Python half of ferry-bench-transforms (python_modes.py) as a child
// process on two pipes: the tool asks for one pass of a mode at a time, so
// Pillow and torchvision rounds alternate with ferry's in one run.
#include <sys/types.h>

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

namespace ferry::bench_transforms {

struct PassTiming {
  size_t images = 0;
  double cpu_seconds = 0;  ///< the helper thread's CPU time
  double wall_seconds = 0;
};

class PythonHelper {
 public:
  /// Starts `python script list_dir` and waits for its "ready" line. On
  /// failure (no interpreter, no Pillow) `why` says so and modes() is empty.
  PythonHelper(const std::string& python, const std::string& script, const std::string& list_dir);
  ~PythonHelper();  ///< closes its stdin and reaps it (it exits at EOF)
  PythonHelper(const PythonHelper&) = delete;
  PythonHelper& operator=(const PythonHelper&) = delete;

  const std::vector<std::string>& modes() const { return modes_; }
  const std::string& why() const { return why_; }
  /// Runs one pass of `mode`; nullopt (and why() set) when it failed.
  std::optional<PassTiming> run(const std::string& mode);

 private:
  pid_t pid_ = -1;
  std::FILE* to_ = nullptr;
  std::FILE* from_ = nullptr;
  std::vector<std::string> modes_;
  std::string why_;
};

}  // namespace ferry::bench_transforms
