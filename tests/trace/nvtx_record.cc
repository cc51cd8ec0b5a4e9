#include "tests/trace/nvtx_record.h"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace ferry::testing {
namespace {

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(line);
  while (std::getline(in, part, '\t')) parts.push_back(part);
  if (!line.empty() && line.back() == '\t') parts.emplace_back();
  return parts;
}

NvtxProcess load_process(const std::filesystem::path& file) {
  NvtxProcess p;
  p.pid = std::stoi(file.stem().string());
  struct Open {
    std::string domain, name;
  };
  std::map<int, std::vector<Open>> open;  // tid -> its open ranges, innermost last
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    const std::vector<std::string> f = split_tabs(line);
    if (f.size() >= 2 && f[0] == "domain") {
      p.domains.push_back(f[1]);
    } else if (f.size() >= 3 && f[0] == "thread") {
      p.threads[std::stoi(f[1])] = f[2];
    } else if (f.size() >= 4 && f[0] == "push") {
      const int tid = std::stoi(f[1]);
      const std::vector<Open>& around = open[tid];
      p.ranges.push_back({tid, f[2], f[3], int(around.size()), around.empty() ? "" : around.back().name});
      open[tid].push_back({f[2], f[3]});
    } else if (f.size() >= 3 && f[0] == "pop") {
      const int tid = std::stoi(f[1]);
      if (open[tid].empty() || open[tid].back().domain != f[2]) {
        p.bad_pops.push_back("pop of domain '" + f[2] + "' on thread " + f[1]);
      } else {
        open[tid].pop_back();
      }
    }
  }
  for (const auto& [tid, stack] : open)
    if (!stack.empty()) p.open_at_end[tid] = int(stack.size());
  const auto main = p.threads.find(p.pid);
  if (main != p.threads.end()) p.name = main->second;
  return p;
}

}  // namespace

NvtxRecording NvtxRecording::load(const std::string& dir) {
  NvtxRecording r;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".tsv") r.processes_.push_back(load_process(e.path()));
  return r;
}

const NvtxProcess* NvtxRecording::process(int pid) const {
  for (const NvtxProcess& p : processes_)
    if (p.pid == pid) return &p;
  return nullptr;
}

std::vector<const NvtxProcess*> NvtxRecording::processes_named(const std::string& name_prefix) const {
  std::vector<const NvtxProcess*> out;
  for (const NvtxProcess& p : processes_)
    if (p.name.rfind(name_prefix, 0) == 0) out.push_back(&p);
  return out;
}

size_t NvtxRecording::count(const std::string& domain, const std::string& name, const std::string& name_prefix) const {
  size_t n = 0;
  for (const NvtxProcess* p : processes_named(name_prefix))
    for (const NvtxRange& r : p->ranges) n += r.domain == domain && r.name == name;
  return n;
}

std::string NvtxRecording::balance_problems() const {
  std::string problems;
  for (const NvtxProcess& p : processes_) {
    for (const auto& [tid, n] : p.open_at_end)
      problems += "process " + std::to_string(p.pid) + " (" + p.name + "): " + std::to_string(n) +
                  " range(s) never popped on thread " + std::to_string(tid) + "\n";
    for (const std::string& b : p.bad_pops)
      problems += "process " + std::to_string(p.pid) + " (" + p.name + "): " + b + "\n";
  }
  return problems;
}

}  // namespace ferry::testing
