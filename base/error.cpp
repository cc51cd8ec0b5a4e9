#include "base/error.h"

#include <string.h>
#include <sys/resource.h>

#include <csignal>

namespace ferry {

namespace {

// What to do about the errors a user can fix.
std::string advice_for(int err) {
  if (err != EMFILE) return {};
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  return "; this process is at its open-file limit (RLIMIT_NOFILE = " + std::to_string(rl.rlim_cur) +
         "): raise it (ulimit -n) or close files it no longer needs";
}

}  // namespace

std::string open_file_limit_text() { return advice_for(EMFILE).substr(2); }

SystemError::SystemError(const std::string& what_failed, int err)
    : Error(what_failed + " failed: " + strerrordesc_np(err) + " (errno " + std::to_string(err) + ")" +
            advice_for(err)),
      code_(err) {}

std::string signal_name(int signal) {
  const char* abbrev = sigabbrev_np(signal);
  if (abbrev == nullptr) return "signal " + std::to_string(signal);
  return std::string("SIG") + abbrev;
}

}  // namespace ferry
