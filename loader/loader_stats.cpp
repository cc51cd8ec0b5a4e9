#include "loader/loader_stats.h"

#include <sstream>
#include <stdexcept>

#include "base/error.h"

namespace ferry {

std::string LoaderState::serialize() const {
  std::ostringstream out;
  out << "ferry-state 1 epoch=" << epoch << " seed=" << seed << " batch_size=" << batch_size
      << " dataset_size=" << dataset_size << " consumed=";
  // Runs "a-b" keep the common case (a prefix) short.
  for (size_t i = 0; i < consumed.size();) {
    size_t j = i;
    while (j + 1 < consumed.size() && consumed[j + 1] == consumed[j] + 1) ++j;
    out << (i ? "," : "") << consumed[i];
    if (j > i) out << "-" << consumed[j];
    i = j + 1;
  }
  if (!stream_batches.empty()) {
    out << " streams=";
    for (size_t i = 0; i < stream_batches.size(); ++i) out << (i ? "," : "") << stream_batches[i];
  }
  return out.str();
}

LoaderState LoaderState::parse(const std::string& text) {
  auto bad = [&](const std::string& why) -> InvalidOption {
    return InvalidOption("ferry: not a loader state (" + why + "): '" + text.substr(0, 120) + "'");
  };
  std::istringstream in(text);
  std::string magic, version;
  in >> magic >> version;
  if (magic != "ferry-state") throw bad("missing 'ferry-state'");
  if (version != "1") throw bad("version " + version + ", this build reads version 1");
  LoaderState s;
  bool have[5] = {};
  for (std::string kv; in >> kv;) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos) throw bad("'" + kv + "' is not key=value");
    const std::string key = kv.substr(0, eq), value = kv.substr(eq + 1);
    try {
      if (key == "epoch")
        s.epoch = std::stoull(value), have[0] = true;
      else if (key == "seed")
        s.seed = std::stoull(value), have[1] = true;
      else if (key == "batch_size")
        s.batch_size = std::stoll(value), have[2] = true;
      else if (key == "dataset_size")
        s.dataset_size = std::stoll(value), have[3] = true;
      else if (key == "consumed") {
        have[4] = true;
        std::istringstream runs(value);
        for (std::string run; std::getline(runs, run, ',');) {
          const auto dash = run.find('-');
          const int64_t a = std::stoll(run.substr(0, dash));
          const int64_t b = dash == std::string::npos ? a : std::stoll(run.substr(dash + 1));
          if (b < a || a < 0) throw bad("bad range '" + run + "'");
          for (int64_t v = a; v <= b; ++v) s.consumed.push_back(v);
        }
      } else if (key == "streams") {
        std::istringstream counts(value);
        for (std::string c; std::getline(counts, c, ',');) {
          s.stream_batches.push_back(std::stoll(c));
          if (s.stream_batches.back() < 0) throw bad("a negative count in '" + kv + "'");
        }
      } else {
        throw bad("unknown key '" + key + "'");
      }
    } catch (const std::logic_error&) {
      throw bad("bad number in '" + kv + "'");
    }
  }
  for (bool h : have)
    if (!h) throw bad("a field is missing");
  return s;
}

}  // namespace ferry
