#pragma once
// A dataset for engine tests. Each sample writes its index, a value from its
// own RNG (so determinism is visible) and `payload_bytes` of bytes derived from
// both; chosen indices misbehave: throw, report a bad sample, crash, or hang.
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "loader/dataset.h"

namespace ferry::testing {

// kKillSelfOnce kills its worker the first time only (a marker file in
// marker_dir remembers), like a transient fault.
enum class Misbehave { kThrow, kBadSample, kSegfault, kKillSelf, kKillSelfOnce, kHang, kSleep50ms };

class ScriptedDataset : public Dataset {
 public:
  explicit ScriptedDataset(int64_t size, int64_t payload_bytes = 64, int64_t ragged_capacity = 0)
      : size_(size), payload_bytes_(payload_bytes), ragged_capacity_(ragged_capacity) {}

  // Misbehave on `index`.
  ScriptedDataset& on(int64_t index, Misbehave what) {
    script_[index] = what;
    return *this;
  }
  // Where kKillSelfOnce keeps its markers and kHang writes "hanging-<index>".
  ScriptedDataset& marker_dir(std::string dir) {
    marker_dir_ = std::move(dir);
    marker_dir_set_ = true;
    return *this;
  }
  // With a ragged "tokens" field (int32), sample i has tokens_for(i) tokens.
  static int64_t tokens_for(int64_t index) { return (index * 7) % 13; }

  int64_t size() const override { return size_; }
  Schema schema() const override;
  void get(SampleContext& ctx, SampleWriter& out) override;
  void open_in_worker(int worker_id) override { worker_id_ = worker_id; }
  std::string describe() const override { return "ScriptedDataset(" + std::to_string(size_) + ")"; }
  // Spawnable once made so: the worker rebuilds it from spec() through the
  // "scripted" kind that libferry_scripted_plugin.so registers.
  ScriptedDataset& spawnable() {
    spawnable_ = true;
    return *this;
  }
  DatasetSpec spec() const override;
  static std::shared_ptr<ScriptedDataset> from_args(const std::string& args);

  // Set by a worker_init hook in tests; written into the "init" field.
  static inline int64_t init_mark = 0;

 private:
  int64_t size_;
  int64_t payload_bytes_;
  int64_t ragged_capacity_;
  std::map<int64_t, Misbehave> script_;
  std::string marker_dir_ = "/tmp";
  bool marker_dir_set_ = false;
  bool spawnable_ = false;
  int worker_id_ = -2;
};

}  // namespace ferry::testing
