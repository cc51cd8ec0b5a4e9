#include "tools/cli/cli.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <string_view>

namespace ferry::cli {
namespace {

template <class T>
bool parse_whole(std::string_view text, T* value) {
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return ec == std::errc() && end == text.data() + text.size();
}

std::string integer_error(int64_t lo, int64_t hi, const std::string& got) {
  return "must be an integer in " + std::to_string(lo) + ".." + std::to_string(hi) + ", got '" + got + "'";
}

// "1,2,4" into {1, 2, 4}; false for an empty item or one `accept` refuses.
template <class T, class Accept>
bool parse_list(std::string_view text, Accept accept, std::vector<T>* out) {
  out->clear();
  for (size_t pos = 0; pos <= text.size();) {
    const size_t comma = std::min(text.find(',', pos), text.size());
    T x{};
    if (!parse_whole(text.substr(pos, comma - pos), &x) || !accept(x)) return false;
    out->push_back(x);
    pos = comma + 1;
  }
  return true;
}

bool parse_integer_list(std::string_view text, int lo, int hi, std::vector<int>* out) {
  return parse_list(
      text, [lo, hi](int n) { return n >= lo && n <= hi; }, out);
}

// A finite number in (lo, hi], or in [lo, hi] when `closed_below`.
CLI::Validator number_range(double lo, double hi, bool closed_below) {
  return CLI::Validator(
      [lo, hi, closed_below](std::string& v) -> std::string {
        double x = 0;
        if (!parse_whole(v, &x) || !std::isfinite(x) || (closed_below ? x < lo : x <= lo) || x > hi) {
          char range[96];
          std::snprintf(range, sizeof(range), "a number in %c%g, %g]", closed_below ? '[' : '(', lo, hi);
          return "must be " + std::string(range) + ", got '" + v + "'";
        }
        return "";
      },
      "");
}

}  // namespace

Outcome parse_args(CLI::App& app, std::vector<std::string> args) {
  Outcome r;
  // CLI11 takes the arguments last first.
  std::reverse(args.begin(), args.end());
  try {
    app.parse(args);
  } catch (const CLI::CallForHelp&) {
    r.help = true;
  } catch (const CLI::ParseError& e) {
    r.error = e.what();
  }
  return r;
}

std::optional<int> parse(CLI::App& app, int argc, const char* const* argv) {
  const Outcome r = parse_args(app, std::vector<std::string>(argv + 1, argv + argc));
  if (r.help) {
    std::fputs(app.help().c_str(), stdout);
    return 0;
  }
  if (!r.error.empty()) {
    std::fprintf(stderr, "%s: %s\n%s", app.get_name().c_str(), r.error.c_str(), app.help().c_str());
    return kUsageExit;
  }
  return std::nullopt;
}

CLI::Validator integer_in(int64_t lo, int64_t hi) {
  return CLI::Validator(
      [lo, hi](std::string& v) -> std::string {
        int64_t n = 0;
        if (!parse_whole(v, &n) || n < lo || n > hi) return integer_error(lo, hi, v);
        return "";
      },
      "");
}

CLI::Validator unsigned_integer() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        uint64_t n = 0;
        if (!parse_whole(v, &n)) return "must be a non-negative 64-bit integer, got '" + v + "'";
        return "";
      },
      "");
}

CLI::Validator number_above(double lo, double hi) { return number_range(lo, hi, false); }

CLI::Validator number_in(double lo, double hi) { return number_range(lo, hi, true); }

bool parse_number_list(std::string_view text, std::vector<double>* out) {
  return parse_list(
      text, [](double x) { return std::isfinite(x); }, out);
}

CLI::Validator non_empty(const std::string& what) {
  return CLI::Validator([what](std::string& v) -> std::string { return v.empty() ? "needs " + what : ""; }, "");
}

CLI::Option* add_integer_list(CLI::App& app, const std::string& flag, std::vector<int>& out, int lo, int hi,
                              const std::string& help) {
  auto* option = app.add_option_function<std::string>(
      flag, [&out, lo, hi](const std::string& v) { parse_integer_list(v, lo, hi, &out); }, help);
  option->type_name("LIST");
  option->check(CLI::Validator(
      [lo, hi](std::string& v) -> std::string {
        std::vector<int> values;
        if (parse_integer_list(v, lo, hi, &values)) return "";
        return "takes a comma-separated list of integers in " + std::to_string(lo) + ".." + std::to_string(hi) +
               ", e.g. 1,2,4; got '" + v + "'";
      },
      ""));
  return option;
}

CLI::Option* add_named_choice(CLI::App& app, const std::string& flag, const std::vector<std::string>& names,
                              const std::string& default_name, std::function<void(const std::string&)> set,
                              const std::string& help) {
  auto* option = app.add_option_function<std::string>(
      flag, std::move(set), help + " (" + one_of_text(names) + "; default " + default_name + ")");
  option->type_name("NAME");
  option->check(CLI::Validator(
      [names](std::string& v) -> std::string {
        for (const std::string& n : names)
          if (n == v) return "";
        return "must be " + one_of_text(names) + ", got '" + v + "'";
      },
      ""));
  return option;
}

std::string one_of_text(const std::vector<std::string>& names) {
  std::string s;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) s += i + 1 == names.size() ? " or " : ", ";
    s += names[i];
  }
  return s;
}

}  // namespace ferry::cli
