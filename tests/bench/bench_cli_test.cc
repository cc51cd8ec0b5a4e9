// Runs the built ferry-bench ($FERRY_BIN_DIR/ferry-bench) as a process: exit
// codes, the JSON report, the trace and the checksum's stability.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/bench/mini_json.h"
#include "tools/gen_sample/sample_data.h"

namespace ferry::bench {
namespace {

using testing::JsonValue;
using testing::parse_json;

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

struct Outcome {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class BenchCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ferry-bench-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = new std::string(tmpl);
    // 40 images in 4 classes: a few batches of 8, quick to decode.
    sample::write_image_folder(data(), 40, 4, 7);
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    std::filesystem::remove_all(*dir_, ec);
    delete dir_;
    dir_ = nullptr;
  }

  static std::string data() { return *dir_ + "/data"; }
  static std::string path(const std::string& name) { return *dir_ + "/" + name; }

  static std::string binary() {
    const char* bin = std::getenv("FERRY_BIN_DIR");
    return std::string(bin ? bin : "build/bin") + "/ferry-bench";
  }

  // Runs ferry-bench with `args`, stdout and stderr captured in files.
  static Outcome run(const std::vector<std::string>& args, const std::string& cache_home = "") {
    const std::string out_path = path("stdout.txt"), err_path = path("stderr.txt");
    const pid_t pid = fork();
    if (pid == 0) {
      const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (out < 0 || err < 0) _exit(126);
      dup2(out, STDOUT_FILENO);
      dup2(err, STDERR_FILENO);
      if (!cache_home.empty()) setenv("XDG_CACHE_HOME", cache_home.c_str(), 1);
      const std::string exe = binary();
      std::vector<char*> argv;
      argv.push_back(const_cast<char*>(exe.c_str()));
      for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(exe.c_str(), argv.data());
      _exit(127);
    }
    Outcome o;
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid) return o;
    o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    o.out = read_text(out_path);
    o.err = read_text(err_path);
    return o;
  }

  static std::string last_line(const std::string& text) {
    std::string t = text;
    while (!t.empty() && t.back() == '\n') t.pop_back();
    const size_t nl = t.rfind('\n');
    return nl == std::string::npos ? t : t.substr(nl + 1);
  }

  // The "checksum: <hex>" last line of a run over the test data.
  static std::string checksum_with(const std::string& workers, const std::string& seed, const char* pipeline,
                                   const char* start_method = "auto") {
    const Outcome o = run({"--data", data(), "--pipeline", pipeline, "--batch-size", "8", "--workers", workers,
                           "--seed", seed, "--start-method", start_method, "--checksum", "--no-progress"});
    EXPECT_EQ(o.exit_code, 0) << o.err;
    const std::string line = last_line(o.out);
    EXPECT_EQ(line.rfind("checksum: ", 0), 0u) << o.out;
    return line;
  }

  static inline std::string* dir_ = nullptr;
};

TEST_F(BenchCli, HelpPrintsUsageAndExitsZero) {
  const Outcome o = run({"--help"});
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_NE(o.out.find("usage: ferry-bench"), std::string::npos);
}

TEST_F(BenchCli, BadUsageExitsWithTwoAndPrintsUsage) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--batch-size", "0"}, {"--bogus"}, {"--pipeline", "nope"}, {"--epochs", "1", "--seconds", "1"}}) {
    const Outcome o = run(args);
    EXPECT_EQ(o.exit_code, 2) << args[0];
    EXPECT_NE(o.err.find("usage: ferry-bench"), std::string::npos) << o.err;
    EXPECT_TRUE(o.out.empty());
  }
}

TEST_F(BenchCli, MissingDataExitsWithOneAndSaysWhy) {
  const std::string missing = path("no-such-dataset");
  const Outcome o = run({"--data", missing, "--no-progress"});
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_NE(o.err.find(missing), std::string::npos) << o.err;
  EXPECT_EQ(o.err.find("usage:"), std::string::npos) << "not a usage error";
}

TEST_F(BenchCli, CudaDeviceExitsWithOneAndAClearMessage) {
  const Outcome o = run({"--data", data(), "--device", "cuda", "--no-progress"});
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_NE(o.err.find("--device cuda"), std::string::npos) << o.err;
}

TEST_F(BenchCli, JsonReportFileHasTheStableKeys) {
  const std::string json = path("report.json");
  const Outcome o = run({"--data", data(), "--pipeline", "val", "--batch-size", "8", "--workers", "1", "--json", json,
                         "--checksum", "--no-progress"});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_NE(o.out.find("images/s"), std::string::npos) << "the text report still goes to stdout";
  std::string error;
  const auto v = parse_json(read_text(json), &error);
  ASSERT_TRUE(v.has_value()) << error;
  for (const char* key : {"images_per_s", "images", "batches", "wall_s", "workers", "threads", "batch_size", "pipeline",
                          "stage_ms_per_image", "consumer_wait_fraction", "worker_busy_fraction", "batch_latency_ms",
                          "peak_rss_bytes", "skipped_samples", "checksum"})
    EXPECT_NE(v->find(key), nullptr) << key;
  EXPECT_EQ(v->find("images")->number, 40);
  EXPECT_EQ(v->find("batches")->number, 5);
  EXPECT_EQ(v->find("workers")->number, 1);
  EXPECT_EQ(v->find("batch_size")->number, 8);
  EXPECT_EQ(v->find("pipeline")->string, "val");
  EXPECT_GT(v->find("images_per_s")->number, 0);
  EXPECT_GT(v->find("peak_rss_bytes")->number, 0);
  EXPECT_GT(v->find("stage_ms_per_image")->find("decode")->number, 0);
  EXPECT_NE(v->find("batch_latency_ms")->find("p50"), nullptr);
  EXPECT_NE(v->find("batch_latency_ms")->find("p99"), nullptr);
  EXPECT_EQ(v->find("checksum")->string.size(), 16u);
  EXPECT_EQ("checksum: " + v->find("checksum")->string, last_line(o.out));
}

TEST_F(BenchCli, JsonOnStdoutIsTheOnlyThingThere) {
  const Outcome o =
      run({"--data", data(), "--pipeline", "read", "--batch-size", "16", "--workers", "0", "--json", "-"});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  std::string error;
  const auto v = parse_json(o.out, &error);
  ASSERT_TRUE(v.has_value()) << error << "\n" << o.out;
  EXPECT_EQ(v->find("pipeline")->string, "read");
  EXPECT_EQ(v->find("images")->number, 40);
  EXPECT_NE(o.err.find("images/s"), std::string::npos) << "the text report moves to stderr";
}

TEST_F(BenchCli, TraceParsesAndHasEventsFromEveryWorker) {
  for (const char* start_method : {"fork", "spawn"}) {
    SCOPED_TRACE(start_method);
    const std::string trace_path = path("trace.json");
    const Outcome o = run({"--data", data(), "--pipeline", "train", "--batch-size", "4", "--workers", "2", "--trace",
                           trace_path, "--start-method", start_method, "--no-progress"});
    ASSERT_EQ(o.exit_code, 0) << o.err;
    std::string error;
    const auto v = parse_json(read_text(trace_path), &error);
    ASSERT_TRUE(v.has_value()) << error;
    const JsonValue* events = v->find("traceEvents");
    ASSERT_NE(events, nullptr);
    std::map<int, std::string> process_names;
    std::set<int> pids_with_events;
    std::set<std::string> stages;
    for (const JsonValue& e : events->items) {
      const std::string ph = e.find("ph")->string;
      const int pid = int(e.find("pid")->number);
      if (ph == "M" && e.find("name")->string == "process_name")
        process_names[pid] = e.find("args")->find("name")->string;
      if (ph == "X") {
        ASSERT_NE(e.find("ts"), nullptr);
        ASSERT_NE(e.find("dur"), nullptr);
        EXPECT_GE(e.find("dur")->number, 0);
        EXPECT_NE(e.find("tid"), nullptr);
        pids_with_events.insert(pid);
        stages.insert(e.find("name")->string);
      }
    }
    std::set<std::string> workers_with_events;
    for (int pid : pids_with_events)
      if (process_names.count(pid)) workers_with_events.insert(process_names[pid]);
    EXPECT_TRUE(workers_with_events.count("ferry-w0")) << "events of worker 0";
    EXPECT_TRUE(workers_with_events.count("ferry-w1")) << "events of worker 1";
    EXPECT_GE(pids_with_events.size(), 2u);
    EXPECT_TRUE(stages.count("decode"));
    EXPECT_TRUE(stages.count("read"));
  }
}

TEST_F(BenchCli, ChecksumIsTheSameForZeroOneAndThreeWorkers) {
  const std::string zero = checksum_with("0", "5", "train");
  EXPECT_EQ(checksum_with("1", "5", "train"), zero);
  EXPECT_EQ(checksum_with("3", "5", "train"), zero);
}

TEST_F(BenchCli, SpawnedWorkersGiveTheSameChecksumAsForkedOnes) {
  const std::string forked = checksum_with("2", "9", "train", "fork");
  EXPECT_EQ(checksum_with("2", "9", "train", "spawn"), forked);
  const Outcome o = run({"--data", data(), "--pipeline", "read", "--workers", "1", "--start-method", "spawn", "--json",
                         "-", "--no-progress"});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  const auto v = parse_json(o.out);
  ASSERT_TRUE(v.has_value()) << o.out;
  EXPECT_EQ(v->find("start_method")->string, "spawn");
  EXPECT_EQ(v->find("start_method_used")->string, "spawn");
}

TEST_F(BenchCli, ChecksumDoesNotDependOnTheSharingStrategyOrRespawnPolicy) {
  const std::string reference = checksum_with("2", "4", "val");
  for (const char* extra : {"--sharing=file_system", "--on-worker-failure=respawn"}) {
    const Outcome o = run({"--data", data(), "--pipeline", "val", "--batch-size", "8", "--workers", "2", "--seed", "4",
                           extra, "--checksum", "--no-progress"});
    ASSERT_EQ(o.exit_code, 0) << extra << ": " << o.err;
    EXPECT_EQ(last_line(o.out), reference) << extra;
  }
}

TEST_F(BenchCli, ChecksumDependsOnTheSeedButNotOnTheRun) {
  const std::string a = checksum_with("2", "1", "train");
  EXPECT_EQ(checksum_with("2", "1", "train"), a);
  EXPECT_NE(checksum_with("2", "2", "train"), a);
  const std::string read = checksum_with("0", "1", "read");
  EXPECT_EQ(checksum_with("2", "1", "read"), read);
}

TEST_F(BenchCli, SweepPrintsOneRowPerWorkerCountAndOneChecksum) {
  const std::string json = path("sweep.json");
  const Outcome o = run({"--data", data(), "--pipeline", "decode", "--batch-size", "8", "--sweep-workers", "0,1,2",
                         "--checksum", "--json", json, "--no-progress"});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_NE(o.out.find("sweep over workers"), std::string::npos) << o.out;
  EXPECT_EQ(last_line(o.out).rfind("checksum: ", 0), 0u);
  const auto v = parse_json(read_text(json));
  ASSERT_TRUE(v.has_value());
  const JsonValue* runs = v->find("sweep");
  ASSERT_NE(runs, nullptr);
  ASSERT_EQ(runs->items.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(runs->items[i].find("workers")->number, double(i));
}

TEST_F(BenchCli, BadSamplesAreSkippedOrFailTheRunWithTheirPath) {
  const std::string bad_data = path("bad-data");
  sample::write_image_folder(bad_data, 12, 2, 3);
  const std::string bad_file = bad_data + "/class_000/zz_broken.jpg";
  {
    std::ofstream f(bad_file, std::ios::binary);
    f << "\xff\xd8\xff\xe0 this is not a JPEG at all";
  }
  const std::string json = path("skip.json");
  const Outcome skipped = run({"--data", bad_data, "--pipeline", "val", "--batch-size", "4", "--workers", "1",
                               "--on-bad-sample", "skip", "--json", json, "--no-progress"});
  ASSERT_EQ(skipped.exit_code, 0) << skipped.err;
  const auto v = parse_json(read_text(json));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->find("skipped_samples")->number, 1);

  const Outcome failed =
      run({"--data", bad_data, "--pipeline", "val", "--batch-size", "4", "--workers", "1", "--no-progress"});
  EXPECT_EQ(failed.exit_code, 1);
  EXPECT_NE(failed.err.find("zz_broken.jpg"), std::string::npos) << failed.err;
}

TEST_F(BenchCli, WithoutDataASampleSetIsGeneratedOnceAndReused) {
  const std::string cache = path("cache");
  const Outcome first = run({"--pipeline", "read", "--seconds", "0.3", "--no-progress"}, cache);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.out.find("generating a sample data set"), std::string::npos) << first.out;
  EXPECT_TRUE(std::filesystem::exists(cache + "/ferry/sample-512/.complete"));
  const Outcome second = run({"--pipeline", "read", "--seconds", "0.3", "--no-progress"}, cache);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(second.out.find("generating"), std::string::npos) << second.out;
  EXPECT_NE(second.out.find("(generated sample set)"), std::string::npos) << second.out;
}

TEST_F(BenchCli, SecondsModeRunsSeveralEpochsAndStops) {
  const std::string json = path("seconds.json");
  const Outcome o = run({"--data", data(), "--pipeline", "read", "--batch-size", "8", "--workers", "1", "--seconds",
                         "0.5", "--json", json});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  const auto v = parse_json(read_text(json));
  ASSERT_TRUE(v.has_value());
  EXPECT_GE(v->find("wall_s")->number, 0.5);
  EXPECT_GT(v->find("images")->number, 0);
}

}  // namespace
}  // namespace ferry::bench
