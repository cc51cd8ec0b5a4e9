#include "tools/bench/bench_options.h"

#include <sched.h>

#include <charconv>
#include <cmath>
#include <string_view>

#include "base/error.h"

namespace ferry::bench {
namespace {

constexpr Pipeline kPipelines[] = {Pipeline::kTrain, Pipeline::kVal,     Pipeline::kDecode,
                                   Pipeline::kRead,  Pipeline::kTrainU8, Pipeline::kValU8};

template <class T>
bool parse_integer(std::string_view text, T* value) {
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return ec == std::errc() && end == text.data() + text.size();
}

bool parse_seconds(std::string_view text, double* value) {
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return ec == std::errc() && end == text.data() + text.size() && std::isfinite(*value);
}

// One flag's value, range-checked; returns an error message or "".
template <class T>
std::string integer_in(std::string_view flag, std::string_view text, T lo, T hi, T* out) {
  if (!parse_integer(text, out) || *out < lo || *out > hi)
    return std::string(flag) + " must be an integer in " + std::to_string(lo) + ".." + std::to_string(hi) + ", got '" +
           std::string(text) + "'";
  return "";
}

// A policy flag, by the loader's own table of names (loader/options.h).
template <class E>
std::string enum_flag(std::string_view flag, std::string_view text, E* out) {
  try {
    *out = parse_option<E>(flag, text);
    return "";
  } catch (const InvalidOption&) {
    std::string names;
    for (const std::string& n : option_names<E>()) names += (names.empty() ? "" : ", ") + n;
    return std::string(flag) + " must be one of " + names + ", got '" + std::string(text) + "'";
  }
}

std::string parse_sweep(std::string_view text, std::vector<int>* out) {
  out->clear();
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t comma = std::min(text.find(',', pos), text.size());
    int n = 0;
    if (!parse_integer(text.substr(pos, comma - pos), &n) || n < 0 || n > 1024)
      return "--sweep-workers takes a comma-separated list of worker counts in 0..1024, e.g. 1,2,4; got '" +
             std::string(text) + "'";
    out->push_back(n);
    pos = comma + 1;
  }
  return "";
}

// Applies one flag that takes a value; returns an error message or "".
std::string apply(BenchOptions& o, std::string_view flag, std::string_view v, bool& epochs_given) {
  if (flag == "--data") {
    if (v.empty()) return "--data needs a path";
    o.data = v;
  } else if (flag == "--pipeline") {
    for (Pipeline p : kPipelines) {
      if (v == to_string(p)) {
        o.pipeline = p;
        return "";
      }
    }
    return "--pipeline must be train, val, train_u8, val_u8, decode or read, got '" + std::string(v) + "'";
  } else if (flag == "--batch-size") {
    return integer_in<int64_t>(flag, v, 1, 65536, &o.batch_size);
  } else if (flag == "--workers") {
    if (v == "auto") {
      o.workers_auto = true;
      return "";
    }
    o.workers_auto = false;
    std::string e = integer_in<int>(flag, v, 0, 1024, &o.workers);
    return e.empty() ? e : e + " (or auto)";
  } else if (flag == "--threads") {
    return integer_in<int>(flag, v, 1, 256, &o.threads);
  } else if (flag == "--prefetch") {
    return integer_in<int>(flag, v, 1, 64, &o.prefetch);
  } else if (flag == "--epochs") {
    epochs_given = true;
    return integer_in<int64_t>(flag, v, 1, 1'000'000, &o.epochs);
  } else if (flag == "--seconds") {
    if (!parse_seconds(v, &o.seconds) || o.seconds <= 0 || o.seconds > 1e6)
      return "--seconds must be a number of seconds in (0, 1000000], got '" + std::string(v) + "'";
  } else if (flag == "--seed") {
    if (!parse_integer(v, &o.seed)) return "--seed must be a non-negative 64-bit integer, got '" + std::string(v) + "'";
  } else if (flag == "--start-method") {
    return enum_flag(flag, v, &o.start_method);
  } else if (flag == "--on-bad-sample") {
    return enum_flag(flag, v, &o.on_bad_sample);
  } else if (flag == "--sharing") {
    return enum_flag(flag, v, &o.sharing);
  } else if (flag == "--on-worker-failure") {
    return enum_flag(flag, v, &o.on_worker_failure);
  } else if (flag == "--device") {
    if (v == "cpu") {
      o.device = Device::kCpu;
    } else if (v == "cuda") {
      o.device = Device::kCuda;
    } else {
      return "--device must be cpu or cuda, got '" + std::string(v) + "'";
    }
  } else if (flag == "--json") {
    if (v.empty()) return "--json needs a file name or - for stdout";
    o.json_path = v;
  } else if (flag == "--trace") {
    if (v.empty()) return "--trace needs a file name";
    o.trace_path = v;
  } else if (flag == "--sweep-workers") {
    return parse_sweep(v, &o.sweep_workers);
  } else {
    return "unknown option '" + std::string(flag) + "'";
  }
  return "";
}

bool takes_value(std::string_view flag) {
  for (std::string_view f : {"--data", "--pipeline", "--batch-size", "--workers", "--threads", "--prefetch", "--epochs",
                             "--seconds", "--seed", "--start-method", "--on-bad-sample", "--sharing",
                             "--on-worker-failure", "--device", "--json", "--trace", "--sweep-workers"})
    if (flag == f) return true;
  return false;
}

}  // namespace

ParseResult parse_args(const std::vector<std::string>& args) {
  ParseResult r;
  BenchOptions& o = r.options;
  bool epochs_given = false;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "--help" || arg == "-h") {
      r.help = true;
      return r;
    }
    if (arg == "--no-shuffle") {
      o.shuffle = false;
      continue;
    }
    if (arg == "--checksum") {
      o.checksum = true;
      continue;
    }
    if (arg == "--no-progress") {
      o.progress = false;
      continue;
    }
    if (arg == "--gpu-normalize") {
      o.gpu_normalize = true;
      continue;
    }
    // --flag=value is accepted as well as --flag value.
    std::string_view value;
    bool inline_value = false;
    if (const size_t eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      inline_value = true;
    }
    if (!takes_value(arg)) {
      r.error = "unknown option '" + std::string(arg) + "'";
      return r;
    }
    if (!inline_value) {
      if (i + 1 >= args.size()) {
        r.error = std::string(arg) + " needs a value";
        return r;
      }
      value = args[++i];
    }
    r.error = apply(o, arg, value, epochs_given);
    if (!r.error.empty()) return r;
  }
  if (epochs_given && o.seconds > 0) {
    r.error = "--epochs and --seconds exclude each other";
  } else if (o.checksum && o.device == Device::kCuda) {
    r.error = "--checksum reads batches in host memory; it cannot be combined with --device cuda";
  } else if (o.gpu_normalize &&
             (o.device != Device::kCuda || (o.pipeline != Pipeline::kTrainU8 && o.pipeline != Pipeline::kValU8))) {
    r.error =
        "--gpu-normalize converts uint8 batches on the GPU: it needs --device cuda and --pipeline train_u8 "
        "or val_u8";
  } else if (!o.sweep_workers.empty() && !o.trace_path.empty()) {
    r.error = "--trace records one run; it cannot be combined with --sweep-workers";
  }
  return r;
}

std::string usage() {
  return "usage: ferry-bench [options]\n"
         "Measures how many images per second ferry's DataLoader feeds on this machine, where the time goes, and\n"
         "how that scales with workers.\n"
         "  --data PATH             ImageFolder dir, .csv/.tsv file list, tar shard (pattern) or .ferry file;\n"
         "                          default: a sample set generated once into $XDG_CACHE_HOME/ferry (~/.cache/ferry)\n"
         "  --pipeline P            train (default), val, train_u8 / val_u8 (as train / val, uint8 HWC, not\n"
         "                          normalized), decode, or read (bytes only, no decode)\n"
         "  --batch-size N          samples per batch (default 64)\n"
         "  --workers N|auto        worker processes; 0 = in the calling thread; auto (default) = usable cores\n"
         "  --threads N             threads per worker (default 1)\n"
         "  --prefetch N            batches in flight per worker (default 2)\n"
         "  --epochs N              epochs to run (default 1)\n"
         "  --seconds S             instead: run for S seconds (stops mid-epoch)\n"
         "  --seed N                base seed of order and augmentation (default 0)\n"
         "  --no-shuffle            sequential order\n"
         "  --start-method M        auto (default: fork, or spawn from a threaded process), fork or spawn\n"
         "  --on-bad-sample P       error (default), skip or substitute\n"
         "  --sharing S             file_descriptor (default: memfd + fd passing) or file_system (/dev/shm names)\n"
         "  --on-worker-failure P   error (default) or respawn (replace a dead worker, re-run its batches)\n"
         "  --device D              cpu (default) or cuda (batches copied to GPU 0 by the loader's CUDA stage)\n"
         "  --gpu-normalize         with --device cuda and a *_u8 pipeline: each batch normalized to float32 CHW\n"
         "                          on the GPU (ImageNet mean/std), as a training step would\n"
         "  --json FILE|-           write the report as JSON (- = stdout; the text report then goes to stderr)\n"
         "  --trace FILE            write a Chrome trace-event JSON of every stage (Perfetto, chrome://tracing)\n"
         "  --checksum              print 'checksum: <hex>' over every field of every batch, in delivery order\n"
         "  --sweep-workers LIST    one run per worker count, e.g. 1,2,4, and a table\n"
         "  --no-progress           no progress output\n"
         "  -h, --help              this text\n"
         "Exit status: 0 success, 1 the loader failed (its error on stderr), 2 bad usage.\n";
}

std::string to_string(Pipeline p) {
  switch (p) {
    case Pipeline::kTrain:
      return "train";
    case Pipeline::kVal:
      return "val";
    case Pipeline::kDecode:
      return "decode";
    case Pipeline::kRead:
      return "read";
    case Pipeline::kTrainU8:
      return "train_u8";
    case Pipeline::kValU8:
      return "val_u8";
  }
  return "?";
}

std::string to_string(Device d) { return d == Device::kCuda ? "cuda" : "cpu"; }

int usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
  const int n = CPU_COUNT(&set);
  return n > 0 ? n : 1;
}

}  // namespace ferry::bench
