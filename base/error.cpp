#include "base/error.h"

#include <string.h>

#include <csignal>

namespace ferry {

SystemError::SystemError(const std::string& what_failed, int err)
    : Error(what_failed + " failed: " + strerrordesc_np(err) + " (errno " + std::to_string(err) + ")"), code_(err) {}

std::string signal_name(int signal) {
  const char* abbrev = sigabbrev_np(signal);
  if (abbrev == nullptr) return "signal " + std::to_string(signal);
  return std::string("SIG") + abbrev;
}

}  // namespace ferry
