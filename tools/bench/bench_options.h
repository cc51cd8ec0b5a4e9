#pragma once
/// ferry-bench's command line: every flag as a plain value, and the parser.
///
///   auto parsed = ferry::bench::parse_args({"--data", "/data/train", "--workers", "auto"});
///   if (!parsed.error.empty()) { print(parsed.error, usage()); return 2; }
///
/// Each flag is declared once (bench_options.cpp, on CLI11): its name, the
/// field it sets, its range and its help; usage() is generated from that.
/// The parser only checks syntax and ranges; whether the data exists is the
/// run's business (exit 1, not 2).
#include <cstdint>
#include <string>
#include <vector>

#include "loader/options.h"
#include "transforms/color_jitter.h"
#include "transforms/interpolation.h"

namespace ferry::bench {

/// What each sample goes through.
enum class Pipeline : uint8_t {
  kTrain,    ///< RandomResizedCrop(224) + flip + normalize, float32 CHW
  kVal,      ///< Resize(256) + CenterCrop(224) + normalize, float32 CHW
  kDecode,   ///< whole image resized to 224x224, uint8 HWC
  kRead,     ///< the encoded bytes only, no decode
  kTrainU8,  ///< train without normalize: uint8 HWC (normalize on the GPU: --gpu-normalize)
  kValU8     ///< val without normalize: uint8 HWC
};

enum class Device : uint8_t { kCpu, kCuda };

struct BenchOptions {
  std::string data;  ///< dataset spec for open_source(); empty = generated sample set
  Pipeline pipeline = Pipeline::kTrain;
  transforms::ColorJitter color_jitter;  ///< --color-jitter B,C,S,H (torchvision's strengths); off by default
  double grayscale_p = 0;                ///< --random-grayscale P, 0..1
  transforms::Interpolation interpolation = transforms::Interpolation::kBilinear;  ///< --interpolation
  /// --masks: "" none; a folder of masks parallel to --data's images; "list": --data is an image,mask list
  std::string masks;
  int64_t batch_size = 64;    ///< 1..65536
  int workers = 0;            ///< worker processes (resolved when workers_auto)
  bool workers_auto = true;   ///< --workers auto (the default): one per usable core
  int threads = 1;            ///< threads per worker, 1..256
  int prefetch = 2;           ///< batches in flight per worker, 1..64
  int64_t epochs = 1;         ///< epochs to run when seconds == 0
  int64_t warmup_epochs = 0;  ///< epochs run before the timed window (worker start, cold caches)
  double seconds = 0;         ///< > 0: run whole epochs until this much time passed, stop mid-epoch
  uint64_t seed = 0;
  bool shuffle = true;
  StartMethod start_method = StartMethod::kAuto;
  OnBadSample on_bad_sample = OnBadSample::kError;
  Sharing sharing = Sharing::kFileDescriptor;
  OnWorkerFailure on_worker_failure = OnWorkerFailure::kError;
  Device device = Device::kCpu;
  bool gpu_normalize = false;    ///< with device cuda and a *_u8 pipeline: normalize each batch on the GPU
  std::string json_path;         ///< "" none, "-" stdout
  std::string trace_path;        ///< "" none
  std::string bad_samples_path;  ///< "" none: the bad samples as TSV (index, path, message)
  std::string html_path;         ///< "" none: the report as one self-contained HTML page
  bool checksum = false;
  std::vector<int> sweep_workers;  ///< non-empty: one run per value
  bool progress = true;
};

struct ParseResult {
  BenchOptions options;
  bool help = false;  ///< --help/-h: print usage(), exit 0
  std::string error;  ///< non-empty: bad usage (exit 2), e.g. "--batch-size: must be an integer in 1..65536, got '0'"
};

/// Parses the arguments after the program name.
ParseResult parse_args(const std::vector<std::string>& args);

/// The help text, generated from the flags (several lines, ends with a newline).
std::string usage();

std::string to_string(Pipeline p);
std::string to_string(Device d);

/// The exit status of a run stopped by SIGINT or SIGTERM (128 + SIGINT, as a shell reports it).
inline constexpr int kInterruptedExit = 130;

/// CPUs this process may run on (sched_getaffinity), at least 1: the value of --workers auto.
int usable_cores();

}  // namespace ferry::bench
