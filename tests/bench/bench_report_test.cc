// The checksum's definition, the report's JSON keys, the Chrome trace and the
// progress line, without running a loader.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "loader/batch.h"
#include "tools/bench/batch_checksum.h"
#include "tools/bench/chrome_trace.h"
#include "tools/bench/progress.h"
#include "tools/bench/run_report.h"
#include "tools/bench/tree_memory.h"

namespace ferry::bench {
namespace {

using nlohmann::json;

// The definition in batch_checksum.h, byte by byte, written independently.
uint64_t reference_absorb(uint64_t h, const std::vector<uint8_t>& bytes) {
  for (size_t i = 0; i < bytes.size(); i += 8) {
    uint64_t w = 0;
    for (size_t k = 0; k < 8 && i + k < bytes.size(); ++k) w |= uint64_t(bytes[i + k]) << (8 * k);
    h = (h ^ w) * 0x100000001b3ull;
  }
  return (h ^ uint64_t(bytes.size())) * 0x100000001b3ull;
}

TEST(BatchChecksum, MatchesGoldenValuesOfTheDefinition) {
  // Computed with a separate Python implementation of the definition.
  BatchChecksum empty;
  empty.absorb(nullptr, 0);
  EXPECT_EQ(empty.hex(), "af63bd4c8601b7df");
  BatchChecksum abc;
  abc.absorb("abc", 3);
  EXPECT_EQ(abc.hex(), "c88fe5618ddac4fd");
  abc.absorb("0123456789", 10);
  EXPECT_EQ(abc.hex(), "c7f82dbe618ed695");
  std::vector<uint8_t> twenty(20);
  for (int i = 0; i < 20; ++i) twenty[size_t(i)] = uint8_t(i);
  BatchChecksum t;
  t.absorb(twenty.data(), twenty.size());
  EXPECT_EQ(t.hex(), "1440cb8aff1af511");
}

TEST(BatchChecksum, MatchesAByteWiseReferenceForEveryLength) {
  std::vector<uint8_t> data;
  for (size_t n = 0; n < 70; ++n) {
    BatchChecksum c;
    c.absorb(data.data(), data.size());
    EXPECT_EQ(c.value(), reference_absorb(0xcbf29ce484222325ull, data)) << n;
    data.push_back(uint8_t(n * 37 + 11));
  }
}

TEST(BatchChecksum, BatchFieldsAreAbsorbedInOrderWithRaggedOffsets) {
  // A batch of 2 samples: "image" uint8 {2, 3}, "bytes" ragged uint8 (3 + 2
  // values, offsets {0, 3, 5}), "label" int64 {2}.
  std::vector<uint8_t> image = {1, 2, 3, 4, 5, 6};
  std::vector<uint8_t> bytes = {9, 8, 7, 6, 5};
  std::vector<int64_t> offsets = {0, 3, 5};
  std::vector<int64_t> labels = {7, -1};
  std::vector<BatchField> fields(3);
  fields[0].name = "image";
  fields[0].values = {image.data(), DType::kUInt8, {2, 3}, {3, 1}};
  fields[1].name = "bytes";
  fields[1].ragged = true;
  fields[1].values = {bytes.data(), DType::kUInt8, {5}, {1}};
  fields[1].offsets = {offsets.data(), DType::kInt64, {3}, {1}};
  fields[2].name = "label";
  fields[2].values = {labels.data(), DType::kInt64, {2}, {1}};
  Batch batch(std::make_shared<int>(0), nullptr, 0, 2, 0, 0, {0, 1}, std::move(fields));

  BatchChecksum via_batch;
  via_batch.add(batch);
  BatchChecksum by_hand;
  by_hand.absorb(image.data(), image.size());
  by_hand.absorb(bytes.data(), bytes.size());
  by_hand.absorb(offsets.data(), offsets.size() * 8);
  by_hand.absorb(labels.data(), labels.size() * 8);
  EXPECT_EQ(via_batch.hex(), by_hand.hex());
  EXPECT_EQ(via_batch.hex().size(), 16u);

  // One changed byte anywhere changes the value.
  labels[1] = 0;
  BatchChecksum changed;
  changed.add(batch);
  EXPECT_NE(changed.hex(), via_batch.hex());
}

TEST(Percentile, IsNearestRank) {
  EXPECT_EQ(percentile({}, 50), 0u);
  EXPECT_EQ(percentile({5}, 99), 5u);
  std::vector<uint64_t> v;
  for (uint64_t i = 100; i >= 1; --i) v.push_back(i);
  EXPECT_EQ(percentile(v, 50), 50u);
  EXPECT_EQ(percentile(v, 99), 99u);
  EXPECT_EQ(percentile(v, 100), 100u);
  EXPECT_EQ(percentile({1, 2, 3}, 50), 2u);
}

RunReport sample_report() {
  RunReport r;
  r.options.workers = 2;
  r.options.workers_auto = true;
  r.options.batch_size = 32;
  r.usable_cores = 2;
  r.data = "/data/\"quoted\"\tdir";
  r.dataset = "ImageFolder(/data)";
  r.rank_source = "default (single process)";
  r.images = 1000;
  r.batches = 32;
  r.epochs = 1;
  r.wall_s = 2.0;
  r.cpu_s = 4.0;
  r.output_bytes = 602112000;
  r.input_bytes_per_image = 110000;
  r.stage_ns.ns[size_t(trace::Stage::kDecode)] = 3'000'000'000;
  r.stage_ns.ns[size_t(trace::Stage::kWaitForBatch)] = 500'000'000;
  r.consumer_wait_ns = 500'000'000;
  r.worker_busy_ns = 3'600'000'000;
  r.latency_p50_ms = 80;
  r.latency_p99_ms = 150;
  r.peak_rss_bytes = 300 << 20;
  r.skipped_samples = 3;
  r.checksum = "0123456789abcdef";
  return r;
}

TEST(RunReport, JsonHasTheStableKeys) {
  const RunReport r = sample_report();
  const json v = json::parse(report_json(r), nullptr, false);
  ASSERT_FALSE(v.is_discarded());
  for (const char* key : {"images_per_s",
                          "images",
                          "batches",
                          "wall_s",
                          "workers",
                          "threads",
                          "batch_size",
                          "pipeline",
                          "stage_ms_per_image",
                          "consumer_wait_fraction",
                          "worker_busy_fraction",
                          "batch_latency_ms",
                          "peak_rss_bytes",
                          "skipped_samples",
                          "checksum",
                          "mb_per_s",
                          "input_mb_per_s",
                          "data",
                          "rank_source",
                          "workers_auto"})
    EXPECT_TRUE(v.contains(key)) << key;
  EXPECT_DOUBLE_EQ(v.at("images_per_s").get<double>(), 500);
  EXPECT_DOUBLE_EQ(v.at("images_per_cpu_s").get<double>(), 250);
  EXPECT_DOUBLE_EQ(v.at("mb_per_s").get<double>(), 301.056);
  EXPECT_DOUBLE_EQ(v.at("input_mb_per_s").get<double>(), 55);
  EXPECT_DOUBLE_EQ(v.at("stage_ms_per_image").at("decode").get<double>(), 3);
  EXPECT_DOUBLE_EQ(v.at("stage_ms_per_image").at("read").get<double>(), 0);
  EXPECT_TRUE(v.at("stage_ms_per_image").contains("h2d"));
  EXPECT_DOUBLE_EQ(v.at("consumer_wait_fraction").get<double>(), 0.25);
  EXPECT_DOUBLE_EQ(v.at("worker_busy_fraction").get<double>(), 0.9);
  EXPECT_DOUBLE_EQ(v.at("batch_latency_ms").at("p99").get<double>(), 150);
  EXPECT_EQ(v.at("pipeline").get<std::string>(), "train");
  EXPECT_EQ(v.at("data").get<std::string>(), "/data/\"quoted\"\tdir");
  EXPECT_EQ(v.at("checksum").get<std::string>(), "0123456789abcdef");
}

TEST(RunReport, JsonListsBadSamplesTheTimelineAndTheRunState) {
  RunReport r = sample_report();
  r.warmup_epochs = 2;
  r.interrupted = true;
  r.bad_samples = {{4, "/d/a.jpg", "/d/a.jpg: Not a JPEG file"}, {9, "/d/b.jpg", "/d/b.jpg: truncated"}};
  r.timeline = {{0.5, 100}, {1.0, 250}};
  const json v = json::parse(report_json(r), nullptr, false);
  ASSERT_FALSE(v.is_discarded());
  EXPECT_EQ(v.at("warmup_epochs").get<int>(), 2);
  EXPECT_TRUE(v.at("interrupted").get<bool>());
  ASSERT_EQ(v.at("bad_samples").size(), 2u);
  EXPECT_EQ(v.at("bad_samples")[1].at("index").get<int>(), 9);
  EXPECT_EQ(v.at("bad_samples")[1].at("path").get<std::string>(), "/d/b.jpg");
  EXPECT_EQ(v.at("bad_samples")[1].at("message").get<std::string>(), "/d/b.jpg: truncated");
  EXPECT_EQ(v.at("timeline"), json::parse("[[0.5, 100], [1.0, 250]]"));
  EXPECT_TRUE(v.at("stage_ms_per_image").contains("header"));
}

TEST(RunReport, ABadUtf8FileNameStillGivesValidJson) {
  RunReport r = sample_report();
  r.data = "/data/caf\xe9";  // Latin-1, not UTF-8
  const json v = json::parse(report_json(r), nullptr, false);
  ASSERT_FALSE(v.is_discarded());
  EXPECT_EQ(v.at("data").get<std::string>(), "/data/caf\xef\xbf\xbd") << "U+FFFD in its place";
}

TEST(RunReport, BadSamplesTsvHasEachIndexOnceOnOneLineEach) {
  RunReport a = sample_report(), b = sample_report();
  a.bad_samples = {{4, "/d/a\tb.jpg", "bad\nfile"}, {7, "/d/c.jpg", "truncated"}};
  b.bad_samples = {{7, "/d/c.jpg", "truncated"}, {2, "", "no path"}};
  EXPECT_EQ(bad_samples_tsv({a, b}),
            "index\tpath\tmessage\n4\t/d/a b.jpg\tbad file\n7\t/d/c.jpg\ttruncated\n2\t\tno path\n");
  EXPECT_EQ(bad_samples_tsv({}), "index\tpath\tmessage\n");
}

TEST(RunReport, TextListsTheFirstBadSamplesAndPointsToTheRest) {
  RunReport r = sample_report();
  for (int i = 0; i < 11; ++i) r.bad_samples.push_back({i, "/d/" + std::to_string(i), "bad " + std::to_string(i)});
  const std::string t = report_text(r);
  EXPECT_NE(t.find("sample 7: bad 7"), std::string::npos) << t;
  EXPECT_EQ(t.find("sample 8: bad 8"), std::string::npos) << t;
  EXPECT_NE(t.find("3 more (all of them with --json or --bad-samples FILE)"), std::string::npos) << t;
}

TEST(RunReport, ChecksumKeyOnlyWhenAsked) {
  RunReport r = sample_report();
  r.checksum.clear();
  const json v = json::parse(report_json(r), nullptr, false);
  ASSERT_FALSE(v.is_discarded());
  EXPECT_FALSE(v.contains("checksum"));
}

TEST(RunReport, TextShowsThroughputStagesAndAutoChoice) {
  const std::string t = report_text(sample_report());
  EXPECT_NE(t.find("500.0 images/s"), std::string::npos) << t;
  EXPECT_NE(t.find("decode"), std::string::npos);
  EXPECT_NE(t.find("3.000"), std::string::npos);
  EXPECT_NE(t.find("workers 2 (auto: 2 usable cores)"), std::string::npos) << t;
  EXPECT_NE(t.find("p50 80.0 ms"), std::string::npos);
  EXPECT_NE(t.find("3 skipped"), std::string::npos);
  EXPECT_NE(t.find("300.0 MiB"), std::string::npos);
}

TEST(RunReport, SweepTableHasOneRowPerRunAndParsesAsJson) {
  std::vector<RunReport> runs(2, sample_report());
  runs[1].options.workers = 4;
  runs[1].wall_s = 1.0;
  const std::string table = sweep_table(runs);
  EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), 3);
  EXPECT_NE(table.find("2.00x"), std::string::npos) << table;
  const json v = json::parse(sweep_json(runs), nullptr, false);
  ASSERT_FALSE(v.is_discarded());
  ASSERT_EQ(v.at("sweep").size(), 2u);
  EXPECT_EQ(v.at("sweep")[1].at("workers").get<double>(), 4);
}

TEST(ChromeTrace, NamesProcessesAndThreadsAndUsesMicroseconds) {
  const uint64_t origin = 1'000'000'000;
  std::vector<trace::Event> events = {
      {trace::Stage::kWaitForBatch, 100, 100, origin + 5'000, 2'000'000},
      {trace::Stage::kDecode, 200, 200, origin + 10'000, 3'500},
      {trace::Stage::kAugment, 200, 201, origin + 20'000, 1'000},
      {trace::Stage::kRead, 300, 300, origin + 30'000, 500},
  };
  TraceProcessNames names;
  names.names[100] = "ferry-bench";
  names.names[200] = "ferry-w0";
  names.names[300] = "ferry-w1";
  const json v = json::parse(chrome_trace_json(events, names, origin, {{"tool", "ferry-bench"}}), nullptr, false);
  ASSERT_FALSE(v.is_discarded());
  ASSERT_TRUE(v.contains("traceEvents"));
  std::set<std::string> process_names, thread_names;
  int complete = 0;
  for (const json& e : v.at("traceEvents")) {
    const std::string ph = e.at("ph").get<std::string>();
    const std::string name = e.at("name").get<std::string>();
    if (ph == "M" && name == "process_name") process_names.insert(e.at("args").at("name").get<std::string>());
    if (ph == "M" && name == "thread_name") thread_names.insert(e.at("args").at("name").get<std::string>());
    if (ph == "X") {
      ++complete;
      ASSERT_TRUE(e.contains("ts"));
      ASSERT_TRUE(e.contains("dur"));
      if (name == "decode") {
        EXPECT_DOUBLE_EQ(e.at("ts").get<double>(), 10.0);
        EXPECT_DOUBLE_EQ(e.at("dur").get<double>(), 3.5);
        EXPECT_EQ(e.at("pid").get<double>(), 200);
      }
    }
  }
  EXPECT_EQ(complete, 4);
  EXPECT_EQ(process_names, (std::set<std::string>{"ferry-bench", "ferry-w0", "ferry-w1"}));
  EXPECT_TRUE(thread_names.count("ferry-w0-t1")) << "the second thread of worker 0";
  EXPECT_EQ(v.at("otherData").at("tool").get<std::string>(), "ferry-bench");
}

TEST(Progress, LineShowsImagesRateAndEta) {
  Progress by_images(stderr, ProgressStyle::kBar, 1000, 0, "");
  const std::string bar = by_images.line(250, 0.5);
  EXPECT_NE(bar.find("250/1000 images"), std::string::npos) << bar;
  EXPECT_NE(bar.find("500 img/s"), std::string::npos) << bar;
  EXPECT_NE(bar.find("ETA 2s"), std::string::npos) << bar;
  EXPECT_NE(bar.find("[######.................."), std::string::npos) << bar;
  Progress by_time(stderr, ProgressStyle::kLines, 0, 10, "[workers 2]");
  const std::string line = by_time.line(100, 4);
  EXPECT_EQ(line.find('['), 0u);
  EXPECT_NE(line.find("100 images"), std::string::npos) << line;
  EXPECT_NE(line.find("ETA 6s"), std::string::npos) << line;
  EXPECT_EQ(line.find('#'), std::string::npos) << "no bar off a terminal";
}

TEST(TreeMemory, CpuSecondsOfThisProcessGrowWithWork) {
  const double before = self_cpu_seconds();
  volatile uint64_t x = 0;
  for (uint64_t i = 0; i < 50'000'000; ++i) x = x + i;
  EXPECT_GT(self_cpu_seconds(), before);
  EXPECT_GE(process_cpu_seconds(static_cast<int>(getpid())), 0.0);
  EXPECT_EQ(process_cpu_seconds(-5), 0.0);
}

TEST(TreeMemory, CountsThisProcess) {
  EXPECT_GT(process_rss_bytes(static_cast<int>(getpid())), 0u);
  EXPECT_EQ(process_rss_bytes(-5), 0u);
  TreeMemory m;
  m.sample({});
  m.finish();
  EXPECT_GT(m.peak_bytes(), 1u << 20);
}

}  // namespace
}  // namespace ferry::bench
