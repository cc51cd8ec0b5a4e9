#include "tools/bench/chrome_trace.h"

#include <nlohmann/json.hpp>

#include <set>

#include "tools/bench/run_report.h"

namespace ferry::bench {
namespace {

using nlohmann::ordered_json;

ordered_json metadata(const char* what, int pid, int tid, ordered_json args) {
  return {{"name", what}, {"ph", "M"}, {"pid", pid}, {"tid", tid}, {"args", std::move(args)}};
}

}  // namespace

std::string chrome_trace_json(const std::vector<trace::Event>& events, const TraceProcessNames& processes,
                              uint64_t origin_ns, const std::map<std::string, std::string>& other) {
  // Threads of each process, in tid order: the main thread (tid == pid) takes
  // the process name, the others "<process>-t1", "-t2", ...
  std::map<int, std::set<int>> threads;
  for (const auto& [pid, name] : processes.names) threads[pid].insert(pid);
  for (const trace::Event& e : events) threads[e.pid].insert(e.tid);

  // One event per line, written as it is made: a trace holds up to a million
  // events, too many to build as one document first.
  std::string out;
  out.reserve(events.size() * 110 + 4096);
  bool first = true;
  auto append = [&](const ordered_json& event) {
    out += first ? "{\"traceEvents\": [\n" : ",\n";
    first = false;
    out += json_text(event, -1);
    out.pop_back();  // json_text's newline; the separator adds its own
  };
  int sort_index = 0;
  for (const auto& [pid, tids] : threads) {
    const auto it = processes.names.find(pid);
    const std::string pname = it != processes.names.end() ? it->second : "pid " + std::to_string(pid);
    append(metadata("process_name", pid, pid, {{"name", pname}}));
    // Keep the main process on top, then the workers in pid order.
    append(metadata("process_sort_index", pid, pid, {{"sort_index", pname == "ferry-bench" ? -1 : sort_index++}}));
    int k = 0;
    for (int tid : tids)
      append(metadata("thread_name", pid, tid, {{"name", tid == pid ? pname : pname + "-t" + std::to_string(++k)}}));
  }
  for (const trace::Event& e : events) {
    const double ts = double(int64_t(e.start_ns - origin_ns)) / 1000.0;
    append({{"name", trace::stage_name(e.stage)},
            {"cat", "ferry"},
            {"ph", "X"},
            {"pid", e.pid},
            {"tid", e.tid},
            {"ts", ts},
            {"dur", double(e.duration_ns) / 1000.0}});
  }
  if (first) out += "{\"traceEvents\": [";
  ordered_json other_data = ordered_json::object();
  for (const auto& [k, v] : other) other_data[k] = v;
  out += "\n], \"displayTimeUnit\": \"ms\", \"otherData\": " + json_text(other_data, -1);
  out.back() = '}';
  out += '\n';
  return out;
}

}  // namespace ferry::bench
