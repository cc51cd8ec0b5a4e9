// The HTML page of `ferry-bench --html`: well-formed, self-contained, the
// charts a single run and a sweep call for.
#include "tools/bench/html_report.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/bench/html_check.h"

namespace ferry::bench {
namespace {

using testing::count_of;
using testing::html_problems;

RunReport run_with(int workers, double wall_s, int64_t images) {
  RunReport r;
  r.options.workers = workers;
  r.options.workers_auto = false;
  r.data = "/data/<odd> & \"quoted\" name";
  r.dataset = "ImageFolder(/data, 3 classes)";
  r.images = images;
  r.batches = images / 32;
  r.wall_s = wall_s;
  r.cpu_s = wall_s * workers;
  r.stage_ns.ns[size_t(trace::Stage::kRead)] = 100'000'000;
  r.stage_ns.ns[size_t(trace::Stage::kHeader)] = 50'000'000;
  r.stage_ns.ns[size_t(trace::Stage::kDecode)] = 2'000'000'000;
  r.stage_ns.ns[size_t(trace::Stage::kAugment)] = 700'000'000;
  r.stage_ns.ns[size_t(trace::Stage::kWaitForBatch)] = 300'000'000;
  for (int i = 0; i <= 40; ++i) r.timeline.push_back({wall_s * i / 40, images * i / 40});
  return r;
}

TEST(HtmlReport, OneRunIsAWellFormedSelfContainedPage) {
  const std::string page = html_report({run_with(2, 4.0, 1000)});
  EXPECT_EQ(html_problems(page), "") << page;
  EXPECT_EQ(count_of(page, "<svg"), 2u) << "throughput over time and the stage breakdown";
  EXPECT_NE(page.find("Images per second over the timed window"), std::string::npos);
  EXPECT_NE(page.find("Time per image by stage"), std::string::npos);
  EXPECT_EQ(page.find("against workers"), std::string::npos) << "no sweep charts for one run";
  EXPECT_NE(page.find("<polyline"), std::string::npos);
  EXPECT_NE(page.find("250.0"), std::string::npos) << "1000 images in 4 s";
  EXPECT_NE(page.find("&lt;odd&gt; &amp; &quot;quoted&quot;"), std::string::npos) << "the data path, escaped";
  for (const char* stage : {">read<", ">header<", ">decode<", ">augment<", ">wait_for_batch<"})
    EXPECT_NE(page.find(stage), std::string::npos) << stage;
}

TEST(HtmlReport, ASweepAddsImagesPerSecondAndCpuPerImageAgainstWorkers) {
  const std::vector<RunReport> runs = {run_with(1, 4.0, 1000), run_with(2, 2.2, 1000), run_with(4, 1.5, 1000)};
  const std::string page = html_report(runs);
  EXPECT_EQ(html_problems(page), "");
  EXPECT_EQ(count_of(page, "<svg"), 4u);
  EXPECT_NE(page.find("Images per second against workers"), std::string::npos);
  EXPECT_NE(page.find("CPU time per image against workers"), std::string::npos);
  EXPECT_EQ(count_of(page, "<circle"), 6u) << "one marker per worker count in each sweep chart";
  EXPECT_GE(count_of(page, "<polyline"), 5u) << "three throughput lines and two sweep lines";
}

TEST(HtmlReport, AnInterruptedRunIsMarked) {
  RunReport r = run_with(2, 1.0, 100);
  r.interrupted = true;
  const std::string page = html_report({r});
  EXPECT_EQ(html_problems(page), "");
  EXPECT_NE(page.find("Interrupted"), std::string::npos);
}

TEST(HtmlReport, ARunWithoutImagesStillMakesAPage) {
  RunReport r;
  r.interrupted = true;
  EXPECT_EQ(html_problems(html_report({r})), "");
  EXPECT_EQ(html_problems(html_report({})), "");
}

TEST(HtmlCheck, FindsWhatAPageMustNotHave) {
  EXPECT_NE(html_problems("<!DOCTYPE html>\n<p>open"), "");
  EXPECT_NE(html_problems("<!DOCTYPE html>\n<p><b></p></b>"), "");
  EXPECT_NE(html_problems("<!DOCTYPE html>\n<p>&nbsp;</p>"), "");
  EXPECT_NE(html_problems("<!DOCTYPE html>\n<script>x</script>"), "");
  EXPECT_NE(html_problems("<!DOCTYPE html>\n<p style=\"background:url(x.png)\"></p>"), "");
  EXPECT_EQ(html_problems("<!DOCTYPE html>\n<p>a &amp; b<br/></p>"), "");
}

}  // namespace
}  // namespace ferry::bench
