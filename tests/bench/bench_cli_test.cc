// Runs the built ferry-bench ($FERRY_BIN_DIR/ferry-bench) as a process: exit
// codes, the JSON report, the trace and the checksum's stability.
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/bench/html_check.h"
#include "tests/support/child_process.h"
#include "tests/support/process_census.h"
#include "tools/gen_sample/sample_data.h"
#include "tools/gen_sample/sample_folders.h"

namespace ferry::bench {
namespace {

using nlohmann::json;

using Outcome = ferry::testing::ChildOutput;
using ferry::testing::ChildProcess;

std::string read_text(const std::string& path) { return ferry::testing::read_text_file(path); }

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

  static std::vector<std::pair<std::string, std::string>> env(const std::string& cache_home) {
    if (cache_home.empty()) return {};
    return {{"XDG_CACHE_HOME", cache_home}};
  }

  // Runs ferry-bench with `args`, stdout and stderr captured in files.
  static Outcome run(const std::vector<std::string>& args, const std::string& cache_home = "") {
    return ferry::testing::run_child(binary(), args, *dir_, env(cache_home));
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
  EXPECT_NE(o.out.find("Usage: ferry-bench"), std::string::npos);
}

TEST_F(BenchCli, BadUsageExitsWithTwoAndPrintsUsage) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--batch-size", "0"}, {"--bogus"}, {"--pipeline", "nope"}, {"--epochs", "1", "--seconds", "1"}}) {
    const Outcome o = run(args);
    EXPECT_EQ(o.exit_code, 2) << args[0];
    EXPECT_NE(o.err.find("Usage: ferry-bench"), std::string::npos) << o.err;
    EXPECT_TRUE(o.out.empty());
  }
}

TEST_F(BenchCli, MissingDataExitsWithOneAndSaysWhy) {
  const std::string missing = path("no-such-dataset");
  const Outcome o = run({"--data", missing, "--no-progress"});
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_NE(o.err.find(missing), std::string::npos) << o.err;
  EXPECT_EQ(o.err.find("Usage:"), std::string::npos) << "not a usage error";
}

TEST_F(BenchCli, CudaDeviceExitsWithOneAndAClearMessage) {
  const Outcome o = run({"--data", data(), "--device", "cuda", "--no-progress"});
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_NE(o.err.find("--device cuda"), std::string::npos) << o.err;
}

TEST_F(BenchCli, JsonReportFileHasTheStableKeys) {
  const std::string json_path = path("report.json");
  const Outcome o = run({"--data", data(), "--pipeline", "val", "--batch-size", "8", "--workers", "1", "--json",
                         json_path, "--checksum", "--no-progress"});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_NE(o.out.find("images/s"), std::string::npos) << "the text report still goes to stdout";
  const json v = json::parse(read_text(json_path), nullptr, false);
  ASSERT_FALSE(v.is_discarded());
  for (const char* key : {"images_per_s", "images", "batches", "wall_s", "workers", "threads", "batch_size", "pipeline",
                          "stage_ms_per_image", "consumer_wait_fraction", "worker_busy_fraction", "batch_latency_ms",
                          "peak_rss_bytes", "skipped_samples", "checksum"})
    EXPECT_TRUE(v.contains(key)) << key;
  EXPECT_EQ(v.at("images").get<double>(), 40);
  EXPECT_EQ(v.at("batches").get<double>(), 5);
  EXPECT_EQ(v.at("workers").get<double>(), 1);
  EXPECT_EQ(v.at("batch_size").get<double>(), 8);
  EXPECT_EQ(v.at("pipeline").get<std::string>(), "val");
  EXPECT_GT(v.at("images_per_s").get<double>(), 0);
  EXPECT_GT(v.at("peak_rss_bytes").get<double>(), 0);
  EXPECT_GT(v.at("stage_ms_per_image").at("decode").get<double>(), 0);
  EXPECT_TRUE(v.at("batch_latency_ms").contains("p50"));
  EXPECT_TRUE(v.at("batch_latency_ms").contains("p99"));
  EXPECT_EQ(v.at("checksum").get<std::string>().size(), 16u);
  EXPECT_EQ("checksum: " + v.at("checksum").get<std::string>(), last_line(o.out));
}

TEST_F(BenchCli, JsonOnStdoutIsTheOnlyThingThere) {
  const Outcome o =
      run({"--data", data(), "--pipeline", "read", "--batch-size", "16", "--workers", "0", "--json", "-"});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  const json v = json::parse(o.out, nullptr, false);
  ASSERT_FALSE(v.is_discarded()) << "\n" << o.out;
  EXPECT_EQ(v.at("pipeline").get<std::string>(), "read");
  EXPECT_EQ(v.at("images").get<double>(), 40);
  EXPECT_NE(o.err.find("images/s"), std::string::npos) << "the text report moves to stderr";
}

TEST_F(BenchCli, TraceParsesAndHasEventsFromEveryWorker) {
  for (const char* start_method : {"fork", "spawn"}) {
    SCOPED_TRACE(start_method);
    const std::string trace_path = path("trace.json");
    const Outcome o = run({"--data", data(), "--pipeline", "train", "--batch-size", "4", "--workers", "2", "--trace",
                           trace_path, "--start-method", start_method, "--no-progress"});
    ASSERT_EQ(o.exit_code, 0) << o.err;
    const json v = json::parse(read_text(trace_path), nullptr, false);
    ASSERT_FALSE(v.is_discarded());
    ASSERT_TRUE(v.contains("traceEvents"));
    std::map<int, std::string> process_names;
    std::set<int> pids_with_events;
    std::set<std::string> stages;
    for (const json& e : v.at("traceEvents")) {
      const std::string ph = e.at("ph").get<std::string>();
      const int pid = int(e.at("pid").get<double>());
      if (ph == "M" && e.at("name").get<std::string>() == "process_name")
        process_names[pid] = e.at("args").at("name").get<std::string>();
      if (ph == "X") {
        ASSERT_TRUE(e.contains("ts"));
        ASSERT_TRUE(e.contains("dur"));
        EXPECT_GE(e.at("dur").get<double>(), 0);
        EXPECT_TRUE(e.contains("tid"));
        pids_with_events.insert(pid);
        stages.insert(e.at("name").get<std::string>());
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

TEST_F(BenchCli, AMixedFolderAndASegmentationSetGiveTheSameChecksumForZeroAndTwoWorkers) {
  const std::string mixed = path("mixed"), seg = path("seg");
  sample::write_mixed_image_folder(mixed, 30, 3, 2);  // JPEG, PNG, WebP, a PNG named .jpg, a WebP named .png
  sample::write_segmentation_folders(seg, 12, 21, 2);
  const std::vector<std::vector<std::string>> runs = {
      {"--data", mixed, "--color-jitter", "0.4,0.4,0.4,0.1", "--random-grayscale", "0.1"},
      {"--data", mixed, "--pipeline", "val", "--interpolation", "bicubic"},
      {"--data", seg + "/images", "--masks", seg + "/masks", "--color-jitter", "0.4,0.4,0.4,0.1"},
      {"--data", seg + "/pairs.csv", "--masks", "list", "--color-jitter", "0.4,0.4,0.4,0.1"}};
  std::vector<std::string> sums;
  for (const auto& base : runs) {
    std::string zero;
    for (const char* workers : {"0", "2"}) {
      std::vector<std::string> args = base;
      args.insert(args.end(), {"--batch-size", "8", "--workers", workers, "--checksum", "--no-progress"});
      const Outcome o = run(args);
      ASSERT_EQ(o.exit_code, 0) << base[1] << ": " << o.err;
      const std::string line = last_line(o.out);
      ASSERT_EQ(line.rfind("checksum: ", 0), 0u) << o.out;
      if (zero.empty()) zero = line;
      EXPECT_EQ(line, zero) << base[1] << " with " << workers << " workers";
    }
    sums.push_back(zero);
  }
  EXPECT_EQ(sums[2], sums[3]) << "folders and the list name the same pairs";
  EXPECT_NE(sums[0], sums[1]);
}

TEST_F(BenchCli, SpawnedWorkersGiveTheSameChecksumAsForkedOnes) {
  const std::string forked = checksum_with("2", "9", "train", "fork");
  EXPECT_EQ(checksum_with("2", "9", "train", "spawn"), forked);
  const Outcome o = run({"--data", data(), "--pipeline", "read", "--workers", "1", "--start-method", "spawn", "--json",
                         "-", "--no-progress"});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  const json v = json::parse(o.out, nullptr, false);
  ASSERT_FALSE(v.is_discarded()) << o.out;
  EXPECT_EQ(v.at("start_method").get<std::string>(), "spawn");
  EXPECT_EQ(v.at("start_method_used").get<std::string>(), "spawn");
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
  const std::string json_path = path("sweep.json");
  const Outcome o = run({"--data", data(), "--pipeline", "decode", "--batch-size", "8", "--sweep-workers", "0,1,2",
                         "--checksum", "--json", json_path, "--no-progress"});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_NE(o.out.find("sweep over workers"), std::string::npos) << o.out;
  EXPECT_EQ(last_line(o.out).rfind("checksum: ", 0), 0u);
  const json v = json::parse(read_text(json_path), nullptr, false);
  ASSERT_FALSE(v.is_discarded());
  const json& runs = v.at("sweep");
  ASSERT_EQ(runs.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(runs[i].at("workers").get<int>(), int(i));
}

TEST_F(BenchCli, BadSamplesAreSkippedOrFailTheRunWithTheirPath) {
  const std::string bad_data = path("bad-data");
  sample::write_image_folder(bad_data, 12, 2, 3);
  const std::string bad_file = bad_data + "/class_000/zz_broken.jpg";
  {
    std::ofstream f(bad_file, std::ios::binary);
    f << "\xff\xd8\xff\xe0 this is not a JPEG at all";
  }
  const std::string json_path = path("skip.json");
  const Outcome skipped = run({"--data", bad_data, "--pipeline", "val", "--batch-size", "4", "--workers", "1",
                               "--on-bad-sample", "skip", "--json", json_path, "--no-progress"});
  ASSERT_EQ(skipped.exit_code, 0) << skipped.err;
  const json v = json::parse(read_text(json_path), nullptr, false);
  ASSERT_FALSE(v.is_discarded());
  EXPECT_EQ(v.at("skipped_samples").get<double>(), 1);

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
  const std::string json_path = path("seconds.json");
  const Outcome o = run({"--data", data(), "--pipeline", "read", "--batch-size", "8", "--workers", "1", "--seconds",
                         "0.5", "--json", json_path});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  const json v = json::parse(read_text(json_path), nullptr, false);
  ASSERT_FALSE(v.is_discarded());
  EXPECT_GE(v.at("wall_s").get<double>(), 0.5);
  EXPECT_GT(v.at("images").get<double>(), 0);
}

TEST_F(BenchCli, WarmupEpochsRunBeforeTheTimedWindowAndAreReported) {
  const std::string json_path = path("warmup.json");
  const Outcome o = run({"--data", data(), "--pipeline", "val", "--batch-size", "8", "--workers", "1",
                         "--warmup-epochs", "2", "--epochs", "1", "--json", json_path, "--no-progress"});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_NE(o.out.find("1 epoch after 2 epochs of warm-up"), std::string::npos) << o.out;
  const json v = json::parse(read_text(json_path), nullptr, false);
  ASSERT_FALSE(v.is_discarded());
  EXPECT_EQ(v.at("warmup_epochs").get<int>(), 2);
  EXPECT_EQ(v.at("epochs").get<int>(), 1);
  EXPECT_EQ(v.at("images").get<int>(), 40) << "only the timed epoch's images";
  EXPECT_EQ(v.at("batches").get<int>(), 5);
  EXPECT_FALSE(v.at("interrupted").get<bool>());
}

TEST_F(BenchCli, EveryBadSampleIsListedOnceAndCountedOncePerEpoch) {
  // 12 good images and 5 bad files, three of them in a row, so a skip tries
  // the same bad file again as the replacement of another.
  const std::string bad_data = path("many-bad");
  sample::write_image_folder(bad_data, 12, 2, 5);
  std::set<std::string> bad_names;
  for (const char* name : {"img_00000x.jpg", "img_00000y.jpg", "img_00000z.jpg", "zz_a.jpg", "zz_b.jpg"}) {
    std::ofstream(bad_data + "/class_000/" + name, std::ios::binary) << "\xff\xd8\xff\xe0 truncated";
    bad_names.insert(name);
  }
  const std::string json_path = path("many-bad.json"), tsv_path = path("many-bad.tsv");
  const Outcome o =
      run({"--data", bad_data, "--pipeline", "val", "--batch-size", "4", "--workers", "2", "--on-bad-sample", "skip",
           "--epochs", "2", "--json", json_path, "--bad-samples", tsv_path, "--no-progress"});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  const json v = json::parse(read_text(json_path), nullptr, false);
  ASSERT_FALSE(v.is_discarded());
  EXPECT_EQ(v.at("skipped_samples").get<int>(), 10) << "5 bad files, 2 epochs";
  const json& listed = v.at("bad_samples");
  ASSERT_EQ(listed.size(), 5u) << listed.dump();
  std::set<std::string> listed_names;
  std::set<int64_t> indices;
  for (const json& b : listed) {
    const std::string file = std::filesystem::path(b.at("path").get<std::string>()).filename();
    listed_names.insert(file);
    indices.insert(b.at("index").get<int64_t>());
    EXPECT_NE(b.at("message").get<std::string>().find(file), std::string::npos) << b.dump();
  }
  EXPECT_EQ(listed_names, bad_names);
  EXPECT_EQ(indices.size(), 5u);

  const std::string tsv = read_text(tsv_path);
  EXPECT_EQ(tsv.rfind("index\tpath\tmessage\n", 0), 0u) << tsv;
  EXPECT_EQ(std::count(tsv.begin(), tsv.end(), '\n'), 6) << tsv;
  for (const std::string& name : bad_names) EXPECT_NE(tsv.find(name), std::string::npos) << name;
}

TEST_F(BenchCli, HtmlReportOfASweepIsAWellFormedPageWithItsCharts) {
  const std::string html_path = path("sweep.html");
  const Outcome o = run({"--data", data(), "--pipeline", "decode", "--batch-size", "8", "--sweep-workers", "0,1",
                         "--html", html_path, "--no-progress"});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  const std::string page = read_text(html_path);
  EXPECT_EQ(testing::html_problems(page), "");
  EXPECT_EQ(testing::count_of(page, "<svg"), 4u);
  EXPECT_NE(page.find("CPU time per image against workers"), std::string::npos);
}

// SIGINT or SIGTERM mid-run: the report of what was measured, marked
// interrupted, exit 130, and the workers are gone.
TEST_F(BenchCli, ASignalPrintsThePartialReportStopsTheWorkersAndExits130) {
  const std::pair<int, const char*> cases[] = {{SIGINT, "fork"}, {SIGTERM, "spawn"}};
  for (const auto& [sig, start_method] : cases) {
    SCOPED_TRACE(start_method);
    const std::string json_path = path("interrupted.json"), trace_path = path("interrupted-trace.json");
    std::filesystem::remove(json_path);
    ChildProcess bench(binary(),
                       {"--data", data(), "--pipeline", "train", "--batch-size", "4", "--workers", "2",
                        "--start-method", start_method, "--seconds", "600", "--json", json_path, "--trace", trace_path},
                       *dir_);
    ASSERT_GT(bench.pid(), 0);
    // Progress lines (every 2 s off a terminal) say the timed window runs.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (bench.out_so_far().find(" images ") == std::string::npos && std::chrono::steady_clock::now() < deadline)
      usleep(20'000);
    ASSERT_EQ(kill(bench.pid(), sig), 0);
    const Outcome o = bench.wait();
    ASSERT_FALSE(o.killed) << "the signal must be handled, not kill it";
    ASSERT_EQ(o.exit_code, 130) << o.out << o.err;
    EXPECT_NE(o.out.find("INTERRUPTED"), std::string::npos) << o.out;
    EXPECT_NE(o.err.find("interrupted"), std::string::npos) << o.err;
    const json v = json::parse(read_text(json_path), nullptr, false);
    ASSERT_FALSE(v.is_discarded()) << "the JSON report is still written";
    EXPECT_TRUE(v.at("interrupted").get<bool>());
    EXPECT_GT(v.at("images").get<int>(), 0);
    EXPECT_LT(v.at("wall_s").get<double>(), 600);
    // The trace names the workers' pids; none may outlive ferry-bench.
    const json trace = json::parse(read_text(trace_path), nullptr, false);
    ASSERT_FALSE(trace.is_discarded());
    std::set<int> workers;
    for (const json& e : trace.at("traceEvents"))
      if (e.at("name") == "process_name" && e.at("args").at("name").get<std::string>().rfind("ferry-w", 0) == 0)
        workers.insert(e.at("pid").get<int>());
    EXPECT_EQ(workers.size(), 2u);
    for (int w : workers) EXPECT_FALSE(ferry::testing::process_alive(w)) << "worker " << w;
  }
}

}  // namespace
}  // namespace ferry::bench
