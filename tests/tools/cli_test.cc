// tools/cli's checks, and every tool's --help (exit 0) and bad usage (exit 2,
// the message naming the flag), run as processes.
#include "tools/cli/cli.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/support/child_process.h"

namespace ferry::cli {
namespace {

enum class Color : uint8_t { kRed, kGreen };
std::string to_string(Color c) { return c == Color::kRed ? "red" : "green"; }

TEST(Cli, IntegersAreCheckedForSyntaxAndRange) {
  int64_t n = 0;
  CLI::App app{"t", "t"};
  app.add_option("--n", n, "n")->check(integer_in(1, 10));
  EXPECT_EQ(parse_args(app, {"--n", "7"}).error, "");
  EXPECT_EQ(n, 7);
  for (const char* bad : {"0", "11", "x", "5x", "", "1.5"})
    EXPECT_EQ(parse_args(app, {"--n", bad}).error, std::string("--n: must be an integer in 1..10, got '") + bad + "'");
}

TEST(Cli, UnsignedAndPositiveNumbers) {
  uint64_t seed = 0;
  double seconds = 0;
  CLI::App app{"t", "t"};
  app.add_option("--seed", seed, "s")->check(unsigned_integer());
  app.add_option("--seconds", seconds, "s")->check(number_above(0, 100));
  EXPECT_EQ(parse_args(app, {"--seed", "18446744073709551615", "--seconds", "2.5"}).error, "");
  EXPECT_EQ(seed, 18446744073709551615ull);
  EXPECT_DOUBLE_EQ(seconds, 2.5);
  EXPECT_NE(parse_args(app, {"--seed", "-1"}).error.find("--seed: must be a non-negative"), std::string::npos);
  for (const char* bad : {"0", "-1", "nan", "inf", "101"})
    EXPECT_NE(parse_args(app, {"--seconds", bad}).error.find("--seconds: must be a number in (0, 100]"),
              std::string::npos)
        << bad;
}

TEST(Cli, ClosedRangesAndNumberLists) {
  double p = -1;
  CLI::App app{"t", "t"};
  app.add_option("--p", p, "p")->check(number_in(0, 1));
  EXPECT_EQ(parse_args(app, {"--p", "0"}).error, "");
  EXPECT_EQ(p, 0);
  EXPECT_EQ(parse_args(app, {"--p", "1"}).error, "");
  EXPECT_EQ(p, 1);
  for (const char* bad : {"-0.1", "1.01", "nan", "x", ""})
    EXPECT_EQ(parse_args(app, {"--p", bad}).error, std::string("--p: must be a number in [0, 1], got '") + bad + "'");
  std::vector<double> v;
  EXPECT_TRUE(parse_number_list("0.4,0,1e-1", &v));
  EXPECT_EQ(v, (std::vector<double>{0.4, 0, 0.1}));
  for (const char* bad : {"", "0.4,,1", "0.4,", "a", "inf"}) EXPECT_FALSE(parse_number_list(bad, &v)) << bad;
}

TEST(Cli, ChoicesUseTheEnumsOwnNames) {
  Color c = Color::kRed;
  CLI::App app{"t", "t"};
  add_choice(app, "--color", c, {Color::kRed, Color::kGreen}, "a colour");
  EXPECT_EQ(parse_args(app, {"--color", "green"}).error, "");
  EXPECT_EQ(c, Color::kGreen);
  EXPECT_EQ(parse_args(app, {"--color", "blue"}).error, "--color: must be red or green, got 'blue'");
  EXPECT_NE(app.help().find("(red or green; default red)"), std::string::npos) << app.help();
}

TEST(Cli, IntegerListsRejectEmptyItems) {
  std::vector<int> v;
  CLI::App app{"t", "t"};
  add_integer_list(app, "--list", v, 0, 8, "l");
  EXPECT_EQ(parse_args(app, {"--list", "1,2,8"}).error, "");
  EXPECT_EQ(v, (std::vector<int>{1, 2, 8}));
  for (const char* bad : {"1,,2", "", "1,9", "a"})
    EXPECT_NE(parse_args(app, {"--list", bad}).error.find("--list: takes a comma-separated list"), std::string::npos)
        << bad;
}

TEST(Cli, HelpAndUnknownArguments) {
  CLI::App app{"t", "t"};
  EXPECT_TRUE(parse_args(app, {"--help"}).help);
  EXPECT_NE(parse_args(app, {"--nope"}).error.find("--nope"), std::string::npos);
}

ferry::testing::ChildOutput run_tool(const std::string& tool, const std::vector<std::string>& args) {
  const char* bin = std::getenv("FERRY_BIN_DIR");
  const std::string exe = std::string(bin ? bin : "build/bin") + "/" + tool;
  const std::string dir = std::filesystem::temp_directory_path() / ("ferry-cli-test-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  ferry::testing::ChildOutput o = ferry::testing::run_child(exe, args, dir);
  std::filesystem::remove_all(dir);
  return o;
}

struct ToolCase {
  const char* tool;
  std::vector<std::string> bad_usage;  // names `flag` in its message
  const char* flag;
  const char* in_help;  // something --help must mention
};

const ToolCase kTools[] = {
    {"ferry-bench", {"--threads", "0"}, "--threads", "--warmup-epochs"},
    {"ferry-gen-sample", {"--out", "x", "--images", "ten", "--classes", "2"}, "--images", "--classes"},
    {"ferry-pack", {"--max-side", "many", "a", "b.ferry"}, "--max-side", "--reencode-all"},
    {"ferry-read-bench", {"index", "d", "--rounds", "0"}, "--rounds", "prepare"},
    {"ferry-startup-bench", {"--workers", "1,,2"}, "--workers", "--rounds"},
    {"ferry-engine-bench", {"--batch-size", "-3"}, "--batch-size", "--sample-kb"},
    {"ferry-bench-transforms", {"--seconds", "soon", "--data", "/"}, "--seconds", "--json"},
};

TEST(Tools, HelpIsGeneratedAndExitsZero) {
  for (const ToolCase& t : kTools) {
    const ferry::testing::ChildOutput o = run_tool(t.tool, {"--help"});
    EXPECT_EQ(o.exit_code, 0) << t.tool << ": " << o.err;
    EXPECT_NE(o.out.find(std::string("Usage: ") + t.tool), std::string::npos) << t.tool << ": " << o.out;
    EXPECT_NE(o.out.find(t.in_help), std::string::npos) << t.tool;
  }
}

TEST(Tools, BadUsageExitsWithTwoAndNamesTheFlag) {
  for (const ToolCase& t : kTools) {
    const ferry::testing::ChildOutput o = run_tool(t.tool, t.bad_usage);
    EXPECT_EQ(o.exit_code, kUsageExit) << t.tool << ": " << o.err;
    EXPECT_EQ(o.err.rfind(std::string(t.tool) + ": ", 0), 0u) << o.err;
    EXPECT_NE(o.err.find(t.flag), std::string::npos) << t.tool << ": " << o.err;
    EXPECT_TRUE(o.out.empty()) << t.tool << ": " << o.out;
  }
}

TEST(Tools, AnUnknownFlagIsBadUsageEverywhere) {
  for (const ToolCase& t : kTools) EXPECT_EQ(run_tool(t.tool, {"--no-such-flag"}).exit_code, kUsageExit) << t.tool;
}

}  // namespace
}  // namespace ferry::cli
