#pragma once
// Tiny "--name value" parsing shared by the example pair.
#include <cstdlib>
#include <cstring>
#include <string>

namespace ferry::example {

inline std::string arg(int argc, char** argv, const char* name, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  }
  return fallback;
}

inline long long arg_int(int argc, char** argv, const char* name, long long fallback) {
  const std::string v = arg(argc, argv, name, "");
  return v.empty() ? fallback : std::stoll(v);
}

}  // namespace ferry::example
