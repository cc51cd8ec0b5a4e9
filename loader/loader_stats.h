#pragma once
/// What a DataLoader reports about itself (LoaderStats) and where it is in its
/// run (LoaderState, to resume from).
#include <cstdint>
#include <string>
#include <vector>

#include "trace/trace.h"

namespace ferry {

struct LoaderStats {
  int64_t batches = 0;  ///< delivered since construction
  int64_t samples = 0;
  int64_t skipped_samples = 0;  ///< bad samples replaced (OnBadSample::kSkip)
  int64_t substituted_samples = 0;
  int64_t decode_warnings = 0;
  std::vector<std::string> bad_sample_messages;  ///< every bad sample met ("sample N: ...", bad_sample.h)
  uint64_t consumer_wait_ns = 0;                 ///< time next() blocked waiting for a batch
  uint64_t worker_busy_ns = 0;                   ///< summed over workers, time with work in flight
  uint64_t worker_start_ns = 0;                  ///< last pool start: fork -> all workers ready
  int64_t worker_starts = 0;                     ///< pools started
  int64_t one_off_segments = 0;                  ///< batches that did not use a regular slot
  int64_t pageable_batches = 0;                  ///< pin_memory: batches delivered not page-locked (one-off)
  std::string start_method = "in-process";       ///< what started the workers: fork, spawn, "fork, then spawn"
  int64_t worker_respawns = 0;                   ///< dead workers replaced (OnWorkerFailure::kRespawn)
  trace::StageTotals stage_ns;                   ///< per stage, summed over all processes
  std::vector<uint64_t> batch_latency_ns;        ///< dispatch -> arrival, per batch
};

/// Where a loader is in its run, small and serializable: restore it with
/// load_state() on a fresh loader with the same dataset, seed and batch size
/// (num_workers may differ) and the rest of the epoch, and every later epoch,
/// are byte-identical to an uninterrupted run.
struct LoaderState {
  uint64_t epoch = 0;             ///< the epoch to run (or continue) next
  std::vector<int64_t> consumed;  ///< batches of that epoch already delivered (map-style datasets)
  /// Iterable datasets: batches of that epoch already delivered, per stream
  /// (each stream's first ones); empty for map-style datasets.
  std::vector<int64_t> stream_batches;
  uint64_t seed = 0;         ///< checked on load
  int64_t batch_size = 0;    ///< checked on load
  int64_t dataset_size = 0;  ///< checked on load (-1: an iterable dataset of unknown size)

  /// One line of text: "ferry-state 1 epoch=3 seed=7 batch_size=64 dataset_size=1000 consumed=0-11,14"
  /// (iterable datasets add " streams=5,5,4,4").
  std::string serialize() const;
  /// Parses serialize()'s text; throws InvalidOption on anything else.
  static LoaderState parse(const std::string& text);
};

}  // namespace ferry
