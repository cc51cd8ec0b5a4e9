#include "tools/bench/chrome_trace.h"

#include <set>

#include "tools/bench/json_writer.h"

namespace ferry::bench {
namespace {

void metadata(JsonWriter& w, const char* what, int pid, int tid, const std::string& name) {
  w.newline();
  w.begin_object();
  w.key("name");
  w.value(what);
  w.key("ph");
  w.value("M");
  w.key("pid");
  w.value(pid);
  w.key("tid");
  w.value(tid);
  w.key("args");
  w.begin_object();
  w.key("name");
  w.value(name);
  w.end_object();
  w.end_object();
}

}  // namespace

std::string chrome_trace_json(const std::vector<trace::Event>& events, const TraceProcessNames& processes,
                              uint64_t origin_ns, const std::map<std::string, std::string>& other) {
  // Threads of each process, in tid order: the main thread (tid == pid) takes
  // the process name, the others "<process>-t1", "-t2", ...
  std::map<int, std::set<int>> threads;
  for (const auto& [pid, name] : processes.names) threads[pid].insert(pid);
  for (const trace::Event& e : events) threads[e.pid].insert(e.tid);

  std::string out;
  out.reserve(events.size() * 110 + 4096);
  JsonWriter w(out);
  w.begin_object();
  w.key("traceEvents");
  w.begin_array();
  int sort_index = 0;
  for (const auto& [pid, tids] : threads) {
    const auto it = processes.names.find(pid);
    const std::string pname = it != processes.names.end() ? it->second : "pid " + std::to_string(pid);
    metadata(w, "process_name", pid, pid, pname);
    // Keep the main process on top, then the workers in pid order.
    w.newline();
    w.begin_object();
    w.key("name");
    w.value("process_sort_index");
    w.key("ph");
    w.value("M");
    w.key("pid");
    w.value(pid);
    w.key("tid");
    w.value(pid);
    w.key("args");
    w.begin_object();
    w.key("sort_index");
    w.value(pname == "ferry-bench" ? -1 : sort_index++);
    w.end_object();
    w.end_object();
    int k = 0;
    for (int tid : tids) metadata(w, "thread_name", pid, tid, tid == pid ? pname : pname + "-t" + std::to_string(++k));
  }
  for (const trace::Event& e : events) {
    const double ts = double(int64_t(e.start_ns - origin_ns)) / 1000.0;
    w.newline();
    w.begin_object();
    w.key("name");
    w.value(trace::stage_name(e.stage));
    w.key("cat");
    w.value("ferry");
    w.key("ph");
    w.value("X");
    w.key("pid");
    w.value(e.pid);
    w.key("tid");
    w.value(e.tid);
    w.key("ts");
    w.value(ts);
    w.key("dur");
    w.value(double(e.duration_ns) / 1000.0);
    w.end_object();
  }
  w.newline();
  w.end_array();
  w.key("displayTimeUnit");
  w.value("ms");
  w.key("otherData");
  w.begin_object();
  for (const auto& [k, v] : other) {
    w.key(k);
    w.value(v);
  }
  w.end_object();
  w.end_object();
  out += '\n';
  return out;
}

}  // namespace ferry::bench
