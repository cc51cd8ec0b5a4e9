#include "tools/bench/html_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace ferry::bench {
namespace {

using trace::Stage;

constexpr const char* kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
constexpr size_t kPaletteSize = std::size(kPalette);
// Stages of the worker side, stacked per run; the consumer's wait is shown in the table.
constexpr Stage kStackedStages[] = {Stage::kRead,    Stage::kHeader, Stage::kDecode,
                                    Stage::kAugment, Stage::kWrite,  Stage::kSend};
constexpr int kChartWidth = 720;
constexpr int kChartHeight = 300;
constexpr int kMarginLeft = 70, kMarginRight = 20, kMarginTop = 30, kMarginBottom = 50;

std::string num(double v, int digits = 1) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

// A tick step of 1, 2 or 5 times a power of ten giving about `ticks` ticks up to `max`.
double tick_step(double max, int ticks) {
  if (max <= 0) return 1;
  const double raw = max / ticks;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0})
    if (raw <= m * power) return m * power;
  return 10 * power;
}

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y)
};

// A line chart with axes, grid, ticks and a legend (when there are several series).
// `counts`: the x values are counts (workers), so ticks are whole numbers and
// every point has a marker.
std::string line_chart(const std::string& title, const std::string& x_label, const std::string& y_label,
                       const std::vector<Series>& series, bool counts) {
  double x_max = 0, y_max = 0;
  for (const Series& s : series)
    for (const auto& [x, y] : s.points) {
      x_max = std::max(x_max, x);
      y_max = std::max(y_max, y);
    }
  const double x_step = counts ? std::max(1.0, tick_step(x_max, 8)) : tick_step(x_max, 8);
  const double y_step = tick_step(y_max * 1.1, 5);
  x_max = std::max(x_step, std::ceil(x_max / x_step) * x_step);
  y_max = std::max(y_step, std::ceil(y_max * 1.1 / y_step) * y_step);
  const double plot_w = kChartWidth - kMarginLeft - kMarginRight, plot_h = kChartHeight - kMarginTop - kMarginBottom;
  auto px = [&](double x) { return kMarginLeft + x / x_max * plot_w; };
  auto py = [&](double y) { return kMarginTop + plot_h - y / y_max * plot_h; };

  std::string svg = "<svg class=\"chart\" width=\"" + std::to_string(kChartWidth) + "\" height=\"" +
                    std::to_string(kChartHeight) + "\" viewBox=\"0 0 " + std::to_string(kChartWidth) + " " +
                    std::to_string(kChartHeight) + "\" role=\"img\">\n";
  svg += "<title>" + html_escape(title) + "</title>\n";
  svg += "<text x=\"" + num(kChartWidth / 2.0) + "\" y=\"18\" text-anchor=\"middle\" class=\"title\">" +
         html_escape(title) + "</text>\n";
  for (double y = 0; y <= y_max + y_step / 2; y += y_step) {
    svg += "<line x1=\"" + num(px(0)) + "\" y1=\"" + num(py(y)) + "\" x2=\"" + num(px(x_max)) + "\" y2=\"" +
           num(py(y)) + "\" class=\"grid\"/>\n";
    svg += "<text x=\"" + num(px(0) - 6) + "\" y=\"" + num(py(y) + 4) + "\" text-anchor=\"end\">" +
           num(y, y_step < 1 ? 2 : 0) + "</text>\n";
  }
  for (double x = 0; x <= x_max + x_step / 2; x += x_step)
    svg += "<text x=\"" + num(px(x)) + "\" y=\"" + num(py(0) + 16) + "\" text-anchor=\"middle\">" +
           num(x, x_step < 1 ? 2 : 0) + "</text>\n";
  svg += "<line x1=\"" + num(px(0)) + "\" y1=\"" + num(py(0)) + "\" x2=\"" + num(px(x_max)) + "\" y2=\"" + num(py(0)) +
         "\" class=\"axis\"/>\n";
  svg += "<line x1=\"" + num(px(0)) + "\" y1=\"" + num(py(0)) + "\" x2=\"" + num(px(0)) + "\" y2=\"" + num(py(y_max)) +
         "\" class=\"axis\"/>\n";
  svg += "<text x=\"" + num(kMarginLeft + plot_w / 2) + "\" y=\"" + num(kChartHeight - 12.0) +
         "\" text-anchor=\"middle\">" + html_escape(x_label) + "</text>\n";
  svg += "<text x=\"16\" y=\"" + num(kMarginTop + plot_h / 2) + "\" text-anchor=\"middle\" transform=\"rotate(-90 16 " +
         num(kMarginTop + plot_h / 2) + ")\">" + html_escape(y_label) + "</text>\n";
  for (size_t i = 0; i < series.size(); ++i) {
    const char* colour = kPalette[i % kPaletteSize];
    std::string points;
    for (const auto& [x, y] : series[i].points) points += num(px(x)) + "," + num(py(y)) + " ";
    if (!points.empty()) points.pop_back();
    svg += "<polyline fill=\"none\" stroke=\"" + std::string(colour) + "\" stroke-width=\"2\" points=\"" + points +
           "\"/>\n";
    if (counts)
      for (const auto& [x, y] : series[i].points)
        svg += "<circle cx=\"" + num(px(x)) + "\" cy=\"" + num(py(y)) + "\" r=\"3.5\" fill=\"" + colour + "\"/>\n";
    if (series.size() > 1) {
      const double ly = kMarginTop + 4 + 16.0 * double(i);
      svg += "<rect x=\"" + num(px(x_max) - 130) + "\" y=\"" + num(ly) + "\" width=\"12\" height=\"12\" fill=\"" +
             colour + "\"/>\n";
      svg += "<text x=\"" + num(px(x_max) - 112) + "\" y=\"" + num(ly + 10) + "\">" + html_escape(series[i].name) +
             "</text>\n";
    }
  }
  svg += "</svg>\n";
  return svg;
}

// Images/s over the timed window, from the run's timeline, in about 60 windows.
Series throughput_series(const RunReport& r, const std::string& name) {
  Series s{name, {}};
  const std::vector<TimelinePoint>& t = r.timeline;
  if (t.size() < 2 || r.wall_s <= 0) return s;
  const double window = std::max(0.25, r.wall_s / 60);
  size_t from = 0;
  for (size_t i = 1; i < t.size(); ++i) {
    const double dt = t[i].elapsed_s - t[from].elapsed_s;
    if (dt < window && i + 1 < t.size()) continue;
    if (dt > 0)
      s.points.emplace_back((t[i].elapsed_s + t[from].elapsed_s) / 2, double(t[i].images - t[from].images) / dt);
    from = i;
  }
  return s;
}

std::string run_name(const RunReport& r) {
  return std::to_string(r.options.workers) + (r.options.workers == 1 ? " worker" : " workers");
}

// One stacked horizontal bar per run: ms per image in each worker-side stage.
std::string stage_chart(const std::vector<RunReport>& runs) {
  double total_max = 0;
  for (const RunReport& r : runs) {
    double total = 0;
    for (Stage s : kStackedStages) total += r.stage_ms_per_image(size_t(s));
    total_max = std::max(total_max, total);
  }
  const double step = tick_step(total_max, 6);
  const double x_max = std::max(step, std::ceil(total_max / step) * step);
  const int bar_h = 22, gap = 10, top = 50;
  const int height = top + int(runs.size()) * (bar_h + gap) + 50;
  const double plot_w = kChartWidth - 110 - kMarginRight;
  auto px = [&](double ms) { return 110 + ms / x_max * plot_w; };

  std::string svg = "<svg class=\"chart\" width=\"" + std::to_string(kChartWidth) + "\" height=\"" +
                    std::to_string(height) + "\" viewBox=\"0 0 " + std::to_string(kChartWidth) + " " +
                    std::to_string(height) + "\" role=\"img\">\n";
  svg += "<title>Time per image by stage</title>\n";
  svg += "<text x=\"" + num(kChartWidth / 2.0) +
         "\" y=\"18\" text-anchor=\"middle\" class=\"title\">Time per image by stage (ms, summed over processes and "
         "threads)</text>\n";
  for (size_t k = 0; k < std::size(kStackedStages); ++k) {
    const double lx = 110 + 100.0 * double(k);
    svg += "<rect x=\"" + num(lx) + "\" y=\"28\" width=\"12\" height=\"12\" fill=\"" + kPalette[k % kPaletteSize] +
           "\"/>\n<text x=\"" + num(lx + 16) + "\" y=\"38\">" + std::string(trace::stage_name(kStackedStages[k])) +
           "</text>\n";
  }
  for (size_t i = 0; i < runs.size(); ++i) {
    const double y = top + double(i) * (bar_h + gap);
    svg += "<text x=\"104\" y=\"" + num(y + bar_h / 2.0 + 4) + "\" text-anchor=\"end\">" +
           html_escape(run_name(runs[i])) + "</text>\n";
    double at = 0;
    for (size_t k = 0; k < std::size(kStackedStages); ++k) {
      const double ms = runs[i].stage_ms_per_image(size_t(kStackedStages[k]));
      if (ms <= 0) continue;
      svg += "<rect x=\"" + num(px(at)) + "\" y=\"" + num(y) + "\" width=\"" + num(px(at + ms) - px(at), 2) +
             "\" height=\"" + std::to_string(bar_h) + "\" fill=\"" + kPalette[k % kPaletteSize] + "\"><title>" +
             std::string(trace::stage_name(kStackedStages[k])) + ": " + num(ms, 3) + " ms</title></rect>\n";
      at += ms;
    }
  }
  const double axis_y = top + double(runs.size()) * (bar_h + gap);
  svg += "<line x1=\"" + num(px(0)) + "\" y1=\"" + num(axis_y) + "\" x2=\"" + num(px(x_max)) + "\" y2=\"" +
         num(axis_y) + "\" class=\"axis\"/>\n";
  for (double x = 0; x <= x_max + step / 2; x += step)
    svg += "<text x=\"" + num(px(x)) + "\" y=\"" + num(axis_y + 16) + "\" text-anchor=\"middle\">" +
           num(x, step < 1 ? 2 : 0) + "</text>\n";
  svg += "</svg>\n";
  return svg;
}

std::string row(const std::vector<std::string>& cells, const char* tag = "td") {
  std::string t = "<tr>";
  for (const std::string& c : cells) t += std::string("<") + tag + ">" + html_escape(c) + "</" + tag + ">";
  return t + "</tr>\n";
}

std::string summary_table(const std::vector<RunReport>& runs) {
  std::string t = "<table>\n";
  t += row({"workers", "threads", "images", "images/s", "CPU ms per image", "wall s", "warm-up epochs",
            "consumer wait %", "bad samples", "state"},
           "th");
  for (const RunReport& r : runs)
    t += row({std::to_string(r.options.workers), std::to_string(r.options.threads), std::to_string(r.images),
              num(r.images_per_s()), r.images > 0 ? num(1000 * r.cpu_s / double(r.images), 3) : "-", num(r.wall_s, 2),
              std::to_string(r.warmup_epochs), num(100 * r.consumer_wait_fraction()),
              std::to_string(r.skipped_samples + r.substituted_samples), r.interrupted ? "interrupted" : "complete"});
  return t + "</table>\n";
}

std::string stage_table(const std::vector<RunReport>& runs) {
  std::vector<std::string> header = {"stage"};
  for (const RunReport& r : runs) header.push_back(run_name(r));
  std::string t = "<table>\n" + row(header, "th");
  for (size_t s = 0; s < trace::kStageCount; ++s) {
    bool any = false;
    for (const RunReport& r : runs) any = any || r.stage_ns.ns[s] > 0;
    if (!any) continue;
    std::vector<std::string> cells = {std::string(trace::stage_name(Stage(s)))};
    for (const RunReport& r : runs) cells.push_back(num(r.stage_ms_per_image(s), 3));
    t += row(cells);
  }
  return t + "</table>\n";
}

constexpr const char* kStyle =
    "body{font-family:sans-serif;margin:24px;color:#222;max-width:900px}"
    "table{border-collapse:collapse;margin:8px 0 20px}"
    "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right;font-size:13px}"
    "th{background:#f3f3f3}.chart{display:block;margin:8px 0 24px}"
    ".chart text{font-size:12px;fill:#333}.chart .title{font-size:14px;font-weight:bold}"
    ".grid{stroke:#e5e5e5}.axis{stroke:#555}.note{color:#666;font-size:13px}"
    ".interrupted{color:#b00;font-weight:bold}";

}  // namespace

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string html_report(const std::vector<RunReport>& runs) {
  std::string h =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<title>ferry-bench report</title>\n";
  h += std::string("<style>") + kStyle + "</style>\n</head>\n<body>\n<h1>ferry-bench report</h1>\n";
  if (runs.empty()) return h + "<p>No run was measured.</p>\n</body>\n</html>\n";
  const RunReport& first = runs.front();
  h += "<p>" + html_escape(to_string(first.options.pipeline)) + " pipeline, batch " +
       std::to_string(first.options.batch_size) + ", data " + html_escape(first.data) + "<br/>" +
       html_escape(first.dataset) + "</p>\n";
  for (const RunReport& r : runs)
    if (r.interrupted)
      h += "<p class=\"interrupted\">Interrupted: the " + html_escape(run_name(r)) +
           " run shows what was measured until the signal.</p>\n";
  h += summary_table(runs);

  std::vector<Series> throughput;
  for (const RunReport& r : runs) throughput.push_back(throughput_series(r, run_name(r)));
  h += "<h2>Throughput over time</h2>\n";
  h += line_chart("Images per second over the timed window", "seconds", "images/s", throughput, false);

  h += "<h2>Where the time goes</h2>\n" + stage_chart(runs) + stage_table(runs);

  if (runs.size() > 1) {
    Series rate{"images/s", {}}, cpu{"CPU ms per image", {}};
    for (const RunReport& r : runs) {
      rate.points.emplace_back(r.options.workers, r.images_per_s());
      if (r.images > 0) cpu.points.emplace_back(r.options.workers, 1000 * r.cpu_s / double(r.images));
    }
    h += "<h2>Scaling with workers</h2>\n";
    h += line_chart("Images per second against workers", "workers", "images/s", {rate}, true);
    h += line_chart("CPU time per image against workers", "workers", "CPU ms per image", {cpu}, true);
  }
  h += "<p class=\"note\">CPU time covers ferry-bench and its workers (user + system). Stage times are summed over "
       "every process and thread, so with several workers they exceed the wall time.</p>\n";
  return h + "</body>\n</html>\n";
}

}  // namespace ferry::bench
