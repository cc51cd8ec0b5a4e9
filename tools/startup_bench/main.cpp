// Measures worker start-up (fork or spawn of N workers until each reports
// ready) the way a training loop meets it: construct a loader, take the first
// batch. Rounds alternate between the methods; the table shows medians.
//
//   ferry-startup-bench [--workers 1,2,8] [--rounds 5] [--json FILE]   (--help for more)
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "loader/builtin_datasets.h"
#include "loader/data_loader.h"
#include "tools/cli/cli.h"
#include "tools/gen_sample/sample_data.h"

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> worker_counts{1, 2, 8};
  int rounds = 5;
  std::string json_path;
  CLI::App app{
      "Measures worker start-up (fork or spawn of N workers until each is ready) as a training loop meets it: "
      "construct a loader, take the first batch. Rounds alternate between the methods; the table shows medians.",
      "ferry-startup-bench"};
  ferry::cli::add_integer_list(app, "--workers", worker_counts, 1, 1024, "worker counts (default 1,2,8)");
  app.add_option("--rounds", rounds, "rounds per worker count")
      ->check(ferry::cli::integer_in(1, 1000))
      ->capture_default_str();
  app.add_option("--json", json_path, "also write the medians as JSON")->type_name("FILE");
  if (const auto status = ferry::cli::parse(app, argc, argv)) return *status;

  char tmpl[] = "/tmp/ferry-startup-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  ferry::sample::write_image_folder(dir, 64, 4, 1);
  auto dataset = ferry::open_raw_dataset(dir);

  struct Row {
    int workers;
    double fork_ms, spawn_ms;
  };
  std::vector<Row> rows;
  try {
    for (int n : worker_counts) {
      std::vector<double> times[2];
      for (int r = 0; r < rounds; ++r) {
        for (int m = 0; m < 2; ++m) {
          ferry::LoaderOptions o;
          o.batch_size = 4;
          o.num_workers = n;
          o.start_method = m == 0 ? ferry::StartMethod::kFork : ferry::StartMethod::kSpawn;
          ferry::DataLoader loader(dataset, o);
          auto it = loader.begin();
          times[m].push_back(double(loader.stats().worker_start_ns) / 1e6);
        }
      }
      rows.push_back({n, median(times[0]), median(times[1])});
    }
  } catch (const std::exception& e) {
    std::filesystem::remove_all(dir);
    std::fprintf(stderr, "ferry-startup-bench: %s\n", e.what());
    return 1;
  }
  std::filesystem::remove_all(dir);

  std::printf("| workers | fork ms (median of %d) | spawn ms | spawn / fork |\n|---:|---:|---:|---:|\n", rounds);
  for (const Row& r : rows)
    std::printf("| %d | %.1f | %.1f | %.1fx |\n", r.workers, r.fork_ms, r.spawn_ms, r.spawn_ms / r.fork_ms);
  if (!json_path.empty()) {
    nlohmann::ordered_json rows_json = nlohmann::ordered_json::array();
    for (const Row& r : rows) rows_json.push_back({{"workers", r.workers}, {"fork", r.fork_ms}, {"spawn", r.spawn_ms}});
    std::ofstream(json_path) << nlohmann::ordered_json{{"rounds", rounds}, {"startup_ms", rows_json}}.dump(2) << "\n";
  }
  return 0;
}
