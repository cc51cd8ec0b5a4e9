#pragma once
/// Callbacks around each fork() of a worker process (not used by spawn), for
/// hosts whose runtime must prepare for a fork: an embedded Python interpreter
/// takes its locks in `before` (PyOS_BeforeFork) and mends its state in
/// `after_parent` / `after_child` (PyOS_AfterFork_Parent / _Child).
#include <functional>

namespace ferry::workers {

struct ForkHooks {
  std::function<void()> before;        ///< parent, right before fork()
  std::function<void()> after_parent;  ///< parent, right after fork(), also when it failed
  std::function<void()> after_child;   ///< child, first thing, before the worker's set-up
};

}  // namespace ferry::workers
