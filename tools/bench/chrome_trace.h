#pragma once
/// Chrome trace-event JSON (the format Perfetto and chrome://tracing open)
/// from the loader's trace events:
///   {"traceEvents": [
///     {"name":"process_name","ph":"M","pid":P,"tid":P,"args":{"name":"ferry-w0"}},
///     {"name":"thread_name","ph":"M","pid":P,"tid":T,"args":{"name":"ferry-w0"}},
///     {"name":"decode","cat":"ferry","ph":"X","pid":P,"tid":T,"ts":12.345,"dur":3456.789},
///     ...],
///    "displayTimeUnit":"ms", "otherData":{...}}
/// ts and dur are microseconds; ts counts from the run's start.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "trace/trace.h"

namespace ferry::bench {

struct TraceProcessNames {
  /// pid -> process name ("ferry-bench", "ferry-w0", ...). Pids not in the map
  /// are named "pid N".
  std::map<int, std::string> names;
};

/// The whole trace document. `origin_ns` (trace::now_ns() at the run's start)
/// becomes ts 0; `other` goes to "otherData" as string members.
std::string chrome_trace_json(const std::vector<trace::Event>& events, const TraceProcessNames& processes,
                              uint64_t origin_ns, const std::map<std::string, std::string>& other = {});

}  // namespace ferry::bench
