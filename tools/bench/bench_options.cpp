#include "tools/bench/bench_options.h"

#include <sched.h>

#include "base/error.h"
#include "tools/cli/cli.h"

namespace ferry::bench {
namespace {

constexpr const char* kDescription =
    "Measures how many images per second ferry's DataLoader feeds on this machine, where the time goes, and how "
    "that scales with workers.";
constexpr const char* kFooter =
    "Exit status: 0 success, 1 the loader failed (its error on stderr), 2 bad usage, 130 interrupted (SIGINT or "
    "SIGTERM: the report of what was measured so far is still written, marked interrupted).";

// A policy flag, by the loader's own table of names (loader/options.h).
template <class E>
void add_policy(CLI::App& app, const std::string& flag, E& out, const std::string& help) {
  cli::add_named_choice(
      app, flag, option_names<E>(), to_string(out),
      [&out, flag](const std::string& name) { out = parse_option<E>(flag, name); }, help);
}

// --color-jitter B,C,S,H: torchvision's ColorJitter strengths, whose ranges
// ColorJitter::from_strengths owns.
void add_jitter(CLI::App& app, transforms::ColorJitter& out) {
  auto parse = [](const std::string& v, transforms::ColorJitter* jitter) -> std::string {
    std::vector<double> s;
    if (!cli::parse_number_list(v, &s) || s.size() != 4)
      return "takes four numbers B,C,S,H (brightness, contrast, saturation, hue), e.g. 0.4,0.4,0.4,0.1; got '" + v +
             "'";
    try {
      *jitter = transforms::ColorJitter::from_strengths(s[0], s[1], s[2], s[3]);
    } catch (const InvalidOption& e) {
      return e.what();
    }
    return "";
  };
  auto* option = app.add_option_function<std::string>(
      "--color-jitter", [&out, parse](const std::string& v) { parse(v, &out); },
      "add ColorJitter(brightness, contrast, saturation, hue) with torchvision's strengths (off by default)");
  option->type_name("B,C,S,H");
  option->check(CLI::Validator(
      [parse](std::string& v) {
        transforms::ColorJitter unused;
        return parse(v, &unused);
      },
      ""));
}

// Every flag of ferry-bench, once: its name, the field it sets, its range and its help.
void declare_flags(CLI::App& app, BenchOptions& o) {
  using cli::integer_in;
  app.add_option("--data", o.data,
                 "ImageFolder dir, .csv/.tsv file list, tar shard (pattern) or .ferry file; default: a sample set "
                 "generated once into $XDG_CACHE_HOME/ferry (~/.cache/ferry)")
      ->type_name("PATH")
      ->check(cli::non_empty("a path"));
  cli::add_choice(
      app, "--pipeline", o.pipeline,
      {Pipeline::kTrain, Pipeline::kVal, Pipeline::kTrainU8, Pipeline::kValU8, Pipeline::kDecode, Pipeline::kRead},
      "what each sample goes through (*_u8: as train/val, uint8 HWC, not normalized; read: the encoded "
      "bytes only, no decode)");
  add_jitter(app, o.color_jitter);
  app.add_option("--random-grayscale", o.grayscale_p, "add RandomGrayscale(P): each image gray with probability P")
      ->type_name("P")
      ->check(cli::number_in(0, 1))
      ->capture_default_str();
  cli::add_named_choice(
      app, "--interpolation", transforms::interpolation_names(),
      std::string(transforms::interpolation_name(o.interpolation)),
      [&o](const std::string& name) { o.interpolation = *transforms::parse_interpolation(name); }, "resize filter");
  app.add_option("--masks", o.masks,
                 "segmentation: the masks in DIR, parallel to --data's images (same relative names), or 'list' when "
                 "--data is a .csv/.tsv of image,mask lines; adds a mask field")
      ->type_name("DIR|list")
      ->check(cli::non_empty("a folder, or 'list' when --data is an image,mask list"));
  app.add_option("--batch-size", o.batch_size, "samples per batch")->check(integer_in(1, 65536))->capture_default_str();
  auto* workers = app.add_option_function<std::string>(
      "--workers",
      [&o](const std::string& v) {
        o.workers_auto = v == "auto";
        if (!o.workers_auto) o.workers = std::stoi(v);
      },
      "worker processes; 0 = in the calling thread; auto (default) = one per usable core");
  workers->type_name("N|auto");
  workers->check(CLI::Validator(
      [](std::string& v) -> std::string {
        if (v == "auto") return "";
        const std::string e = cli::integer_in(0, 1024)(v);
        return e.empty() ? e : e + " (or auto)";
      },
      ""));
  app.add_option("--threads", o.threads, "threads per worker")->check(integer_in(1, 256))->capture_default_str();
  app.add_option("--prefetch", o.prefetch, "batches in flight per worker")
      ->check(integer_in(1, 64))
      ->capture_default_str();
  auto* epochs = app.add_option("--epochs", o.epochs, "timed epochs to run")
                     ->check(integer_in(1, 1'000'000))
                     ->capture_default_str();
  app.add_option("--warmup-epochs", o.warmup_epochs,
                 "epochs run before the timed window starts, so worker start and cold caches are left out")
      ->check(integer_in(0, 1'000'000))
      ->capture_default_str();
  app.add_option("--seconds", o.seconds, "instead of --epochs: run whole epochs until S seconds passed, stop mid-epoch")
      ->type_name("S")
      ->check(cli::number_above(0, 1e6))
      ->excludes(epochs);
  app.add_option("--seed", o.seed, "base seed of order and augmentation")
      ->check(cli::unsigned_integer())
      ->capture_default_str();
  app.add_flag_callback(
         "--no-shuffle", [&o] { o.shuffle = false; }, "sequential order")
      ->disable_flag_override();
  add_policy(app, "--start-method", o.start_method, "how workers start (auto: fork, or spawn from a threaded process)");
  add_policy(app, "--on-bad-sample", o.on_bad_sample, "what a bad file does");
  add_policy(app, "--sharing", o.sharing, "batch memory: memfd + fd passing, or named /dev/shm segments");
  add_policy(app, "--on-worker-failure", o.on_worker_failure,
             "a dead worker fails the run, or is replaced and its batches re-run");
  cli::add_choice(app, "--device", o.device, {Device::kCpu, Device::kCuda},
                  "where batches go (cuda: copied to GPU 0 by the loader's CUDA stage)");
  app.add_flag("--gpu-normalize", o.gpu_normalize,
               "with --device cuda and a *_u8 pipeline: each batch normalized to float32 CHW on the GPU (ImageNet "
               "mean/std), as a training step would")
      ->disable_flag_override();
  app.add_option("--json", o.json_path, "write the report as JSON (- = stdout; the text report then goes to stderr)")
      ->type_name("FILE|-")
      ->check(cli::non_empty("a file name or - for stdout"));
  app.add_option("--html", o.html_path,
                 "write the report as one self-contained HTML page (throughput over time, stages, sweep charts)")
      ->type_name("FILE")
      ->check(cli::non_empty("a file name"));
  app.add_option("--bad-samples", o.bad_samples_path, "write every bad sample as TSV: index, path, message")
      ->type_name("FILE")
      ->check(cli::non_empty("a file name"));
  app.add_option("--trace", o.trace_path, "write a Chrome trace-event JSON of every stage (Perfetto, chrome://tracing)")
      ->type_name("FILE")
      ->check(cli::non_empty("a file name"));
  app.add_flag("--checksum", o.checksum, "print 'checksum: <hex>' over every field of every timed batch, in order")
      ->disable_flag_override();
  cli::add_integer_list(app, "--sweep-workers", o.sweep_workers, 0, 1024,
                        "one run per worker count, e.g. 1,2,4, and a table");
  app.add_flag_callback(
         "--no-progress", [&o] { o.progress = false; }, "no progress output")
      ->disable_flag_override();
  app.footer(kFooter);
}

std::string combination_error(const BenchOptions& o) {
  if (o.checksum && o.device == Device::kCuda)
    return "--checksum reads batches in host memory; it cannot be combined with --device cuda";
  if (!o.sweep_workers.empty() && !o.trace_path.empty())
    return "--trace records one run; it cannot be combined with --sweep-workers";
  if (o.gpu_normalize &&
      (o.device != Device::kCuda || (o.pipeline != Pipeline::kTrainU8 && o.pipeline != Pipeline::kValU8)))
    return "--gpu-normalize converts uint8 batches on the GPU: it needs --device cuda and --pipeline train_u8 or "
           "val_u8";
  if (o.pipeline == Pipeline::kRead && (o.color_jitter.enabled() || o.grayscale_p > 0 || !o.masks.empty() ||
                                        o.interpolation != transforms::Interpolation::kBilinear))
    return "--pipeline read decodes nothing; --color-jitter, --random-grayscale, --interpolation and --masks need a "
           "decoding pipeline";
  if (!o.masks.empty() && o.data.empty())
    return "--masks needs --data (the images, or with --masks list an image,mask list)";
  return "";
}

}  // namespace

ParseResult parse_args(const std::vector<std::string>& args) {
  ParseResult r;
  CLI::App app{kDescription, "ferry-bench"};
  declare_flags(app, r.options);
  const cli::Outcome outcome = cli::parse_args(app, args);
  r.help = outcome.help;
  r.error = outcome.error;
  if (!r.help && r.error.empty()) r.error = combination_error(r.options);
  return r;
}

std::string usage() {
  BenchOptions defaults;
  CLI::App app{kDescription, "ferry-bench"};
  declare_flags(app, defaults);
  return app.help();
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
