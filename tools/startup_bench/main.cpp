// Measures worker start-up (fork or spawn of N workers until each reports
// ready) the way a training loop meets it: construct a loader, take the first
// batch. Rounds alternate between the methods; the table shows medians.
//
//   ferry-startup-bench [--workers 1,2,8] [--rounds 5] [--json FILE]
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "loader/builtin_datasets.h"
#include "loader/data_loader.h"
#include "tools/gen_sample/sample_data.h"

namespace {

std::vector<int> parse_list(const std::string& s) {
  std::vector<int> out;
  std::istringstream in(s);
  for (std::string item; std::getline(in, item, ',');) out.push_back(std::stoi(item));
  return out;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

int usage(const char* why) {
  std::fprintf(stderr,
               "ferry-startup-bench: %s\nusage: ferry-startup-bench [--workers 1,2,8] [--rounds N] [--json FILE]\n",
               why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> worker_counts{1, 2, 8};
  int rounds = 5;
  std::string json_path;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return usage(("missing value for " + a).c_str());
    try {
      if (a == "--workers")
        worker_counts = parse_list(argv[++i]);
      else if (a == "--rounds")
        rounds = std::stoi(argv[++i]);
      else if (a == "--json")
        json_path = argv[++i];
      else
        return usage(("unknown option " + a).c_str());
    } catch (const std::exception&) {
      return usage(("bad value for " + a).c_str());
    }
  }
  if (rounds < 1 || worker_counts.empty()) return usage("need --rounds >= 1 and at least one worker count");

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
    std::ofstream j(json_path);
    j << "{\"rounds\": " << rounds << ", \"startup_ms\": [";
    for (size_t i = 0; i < rows.size(); ++i)
      j << (i ? ", " : "") << "{\"workers\": " << rows[i].workers << ", \"fork\": " << rows[i].fork_ms
        << ", \"spawn\": " << rows[i].spawn_ms << "}";
    j << "]}\n";
  }
  return 0;
}
