#pragma once
/// The command line of ferry's tools, on CLI11: each flag is declared once
/// (name, value, help), the help text is generated from the declarations, and
/// values are typed and range-checked with messages that name the flag.
///
///   CLI::App app{"Writes synthetic JPEGs.", "ferry-gen-sample"};
///   app.add_option("--images", images, "how many")->required()->check(ferry::cli::integer_in(1, 10'000'000));
///   if (auto status = ferry::cli::parse(app, argc, argv)) return *status;
///
/// Exit statuses are the same in every tool: 0 after --help, 2 for bad usage
/// (the message and the help go to stderr).
#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::cli {

/// The exit status of a command line that is not usable.
inline constexpr int kUsageExit = 2;

/// What parsing found: help asked for, or a usage error, or neither.
struct Outcome {
  bool help = false;
  std::string error;  ///< non-empty: bad usage, e.g. "--batch-size: must be an integer in 1..65536, got 'ten'"
};

/// Parses `args` (without the program name) into `app`.
Outcome parse_args(CLI::App& app, std::vector<std::string> args);

/// Parses argv; returns the exit status when the program should stop now
/// (0 after printing the help on stdout, 2 after printing the error and the
/// help on stderr), nullopt when it should run.
std::optional<int> parse(CLI::App& app, int argc, const char* const* argv);

/// An integer in [lo, hi] written in base 10 with nothing after it.
CLI::Validator integer_in(int64_t lo, int64_t hi);
/// A non-negative integer that fits 64 bits.
CLI::Validator unsigned_integer();
/// A finite number in (lo, hi].
CLI::Validator number_above(double lo, double hi);
/// A finite number in [lo, hi].
CLI::Validator number_in(double lo, double hi);
/// A comma-separated list of finite numbers, e.g. 0.4,0.4,0.4,0.1, into `out`; false for an empty item or a
/// non-number.
bool parse_number_list(std::string_view text, std::vector<double>* out);
/// A value that is not empty; `what` names it in the message ("a file name").
CLI::Validator non_empty(const std::string& what);
/// A comma-separated list of integers in [lo, hi], e.g. 1,2,4; parsed into `out`.
CLI::Option* add_integer_list(CLI::App& app, const std::string& flag, std::vector<int>& out, int lo, int hi,
                              const std::string& help);

/// "a, b or c".
std::string one_of_text(const std::vector<std::string>& names);

/// An option whose value must be one of `names` (listed in the help and in
/// the message for any other value); `set` receives the value given.
CLI::Option* add_named_choice(CLI::App& app, const std::string& flag, const std::vector<std::string>& names,
                              const std::string& default_name, std::function<void(const std::string&)> set,
                              const std::string& help);

/// An option whose value is one of `values`, each named by to_string(value)
/// (the enum's own table of names), stored into `out`.
template <class E>
CLI::Option* add_choice(CLI::App& app, const std::string& flag, E& out, std::initializer_list<E> values,
                        const std::string& help) {
  std::vector<std::string> names;
  for (E v : values) names.push_back(to_string(v));
  const std::vector<E> table(values);
  return add_named_choice(
      app, flag, names, to_string(out),
      [&out, table](const std::string& name) {
        for (E v : table)
          if (to_string(v) == name) out = v;
      },
      help);
}

}  // namespace ferry::cli
