#include "loader/bad_sample.h"

#include <charconv>

namespace ferry {
namespace {
constexpr std::string_view kPrefix = "sample ";
constexpr std::string_view kSeparator = ": ";
}  // namespace

std::string bad_sample_message(int64_t index, std::string_view what) {
  std::string m(kPrefix);
  m += std::to_string(index);
  m += kSeparator;
  m += what;
  return m;
}

BadSampleText parse_bad_sample_message(std::string_view message) {
  BadSampleText r{-1, std::string(message)};
  if (!message.starts_with(kPrefix)) return r;
  const char* first = message.data() + kPrefix.size();
  const char* last = message.data() + message.size();
  int64_t index = -1;
  const auto [end, ec] = std::from_chars(first, last, index);
  if (ec != std::errc() || index < 0 || std::string_view(end, size_t(last - end)).substr(0, 2) != kSeparator) return r;
  r.index = index;
  r.what.assign(end + kSeparator.size(), last);
  return r;
}

}  // namespace ferry
