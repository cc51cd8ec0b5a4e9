#pragma once
// What the NVTX recorder (nvtx_recorder.cc) wrote for a process tree, as
// queries for tests: which processes and threads had which ranges, and
// whether every push was popped on its own thread.
//
//   NvtxRecording rec = NvtxRecording::load(dir);
//   EXPECT_EQ(rec.count("ferry", "decode", "ferry-w"), images);  // in all workers
//   EXPECT_EQ(rec.balance_problems(), "");
#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace ferry::testing {

struct NvtxRange {
  int tid = 0;
  std::string domain;  // "" for ranges outside a domain
  std::string name;
  int depth = 0;       // ranges open around it on its thread
  std::string parent;  // the innermost of those, "" at depth 0
};

struct NvtxProcess {
  int pid = 0;
  std::string name;                    // the name given to its main thread (tid == pid), "" if none
  std::map<int, std::string> threads;  // tid -> name, for named threads
  std::vector<std::string> domains;    // created, in order
  std::vector<NvtxRange> ranges;       // every push, in order
  std::map<int, int> open_at_end;      // tid -> ranges never popped (only non-zero entries)
  std::vector<std::string> bad_pops;   // pops without a push, or of another domain's range
};

class NvtxRecording {
 public:
  // Reads every <pid>.tsv under `dir`.
  static NvtxRecording load(const std::string& dir);

  const std::vector<NvtxProcess>& processes() const { return processes_; }
  // The process `pid`, or null.
  const NvtxProcess* process(int pid) const;
  // Processes whose name starts with `name_prefix` ("" for all).
  std::vector<const NvtxProcess*> processes_named(const std::string& name_prefix) const;
  // Ranges named `name` in `domain` over processes whose name starts with `name_prefix`.
  size_t count(const std::string& domain, const std::string& name, const std::string& name_prefix = "") const;
  // "" when every process popped what it pushed, on the same thread; else what is wrong.
  std::string balance_problems() const;

 private:
  std::vector<NvtxProcess> processes_;
};

}  // namespace ferry::testing
