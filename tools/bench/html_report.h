#pragma once
/// `ferry-bench --html FILE`: the report as one self-contained HTML page
/// (inline SVG and CSS, no script, nothing fetched), well-formed as XML so any
/// parser can check it:
///   - a summary table per run (images/s, CPU per image, configuration),
///   - throughput over the timed window (one line per run),
///   - the per-stage time per image (one stacked bar per run, and the figures),
///   - for a sweep over workers: images/s and CPU ms per image against workers.
#include <string>
#include <vector>

#include "tools/bench/run_report.h"

namespace ferry::bench {

/// The whole page for `runs` (one run, or the runs of a sweep in order).
std::string html_report(const std::vector<RunReport>& runs);

/// `text` with &, <, >, " escaped for HTML text and attribute values.
std::string html_escape(const std::string& text);

}  // namespace ferry::bench
