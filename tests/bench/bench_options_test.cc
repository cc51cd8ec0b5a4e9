#include "tools/bench/bench_options.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ferry::bench {
namespace {

ParseResult parse(std::vector<std::string> args) { return parse_args(args); }

TEST(BenchOptions, DefaultsAreTrainAutoWorkersOneEpochShuffled) {
  const ParseResult r = parse({});
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_FALSE(r.help);
  const BenchOptions& o = r.options;
  EXPECT_TRUE(o.data.empty());
  EXPECT_EQ(o.pipeline, Pipeline::kTrain);
  EXPECT_EQ(o.batch_size, 64);
  EXPECT_TRUE(o.workers_auto);
  EXPECT_EQ(o.threads, 1);
  EXPECT_EQ(o.prefetch, 2);
  EXPECT_EQ(o.epochs, 1);
  EXPECT_EQ(o.seconds, 0);
  EXPECT_TRUE(o.shuffle);
  EXPECT_EQ(o.start_method, StartMethod::kAuto);
  EXPECT_EQ(o.on_bad_sample, OnBadSample::kError);
  EXPECT_EQ(o.device, Device::kCpu);
  EXPECT_FALSE(o.checksum);
  EXPECT_TRUE(o.progress);
  EXPECT_TRUE(o.sweep_workers.empty());
}

TEST(BenchOptions, EveryFlagIsParsed) {
  const ParseResult r = parse({"--data",
                               "/d/train",
                               "--pipeline",
                               "val",
                               "--batch-size",
                               "32",
                               "--workers",
                               "3",
                               "--threads",
                               "2",
                               "--prefetch",
                               "4",
                               "--epochs",
                               "5",
                               "--seed",
                               "17",
                               "--no-shuffle",
                               "--start-method",
                               "fork",
                               "--on-bad-sample",
                               "substitute",
                               "--device",
                               "cuda",
                               "--json",
                               "-",
                               "--trace",
                               "t.json",
                               "--no-progress"});
  ASSERT_TRUE(r.error.empty()) << r.error;
  const BenchOptions& o = r.options;
  EXPECT_EQ(o.data, "/d/train");
  EXPECT_EQ(o.pipeline, Pipeline::kVal);
  EXPECT_EQ(o.batch_size, 32);
  EXPECT_FALSE(o.workers_auto);
  EXPECT_EQ(o.workers, 3);
  EXPECT_EQ(o.threads, 2);
  EXPECT_EQ(o.prefetch, 4);
  EXPECT_EQ(o.epochs, 5);
  EXPECT_EQ(o.seed, 17u);
  EXPECT_FALSE(o.shuffle);
  EXPECT_EQ(o.start_method, StartMethod::kFork);
  EXPECT_EQ(o.on_bad_sample, OnBadSample::kSubstitute);
  EXPECT_EQ(o.device, Device::kCuda);
  EXPECT_EQ(o.json_path, "-");
  EXPECT_EQ(o.trace_path, "t.json");
  EXPECT_FALSE(o.progress);
}

TEST(BenchOptions, FlagEqualsValueFormIsAccepted) {
  const ParseResult r = parse({"--pipeline=read", "--seconds=2.5", "--workers=auto", "--sweep-workers=1,2,4"});
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.options.pipeline, Pipeline::kRead);
  EXPECT_DOUBLE_EQ(r.options.seconds, 2.5);
  EXPECT_TRUE(r.options.workers_auto);
  EXPECT_EQ(r.options.sweep_workers, (std::vector<int>{1, 2, 4}));
}

TEST(BenchOptions, PipelinesAndPoliciesHaveTheirNames) {
  for (const char* p : {"train", "val", "decode", "read", "train_u8", "val_u8"}) {
    const ParseResult r = parse({"--pipeline", p});
    ASSERT_TRUE(r.error.empty()) << r.error;
    EXPECT_EQ(to_string(r.options.pipeline), p);
  }
  EXPECT_EQ(parse({"--on-bad-sample", "skip"}).options.on_bad_sample, OnBadSample::kSkip);
  EXPECT_EQ(parse({"--on-bad-sample", "error"}).options.on_bad_sample, OnBadSample::kError);
  EXPECT_EQ(parse({"--start-method", "auto"}).options.start_method, StartMethod::kAuto);
  EXPECT_EQ(parse({"--workers", "0"}).options.workers, 0);
}

TEST(BenchOptions, BadValuesAreErrorsNamingTheFlag) {
  const std::vector<std::vector<std::string>> bad = {
      {"--batch-size", "0"},       {"--batch-size", "ten"},     {"--batch-size", "5x"},        {"--workers", "-1"},
      {"--workers", "many"},       {"--threads", "0"},          {"--prefetch", "0"},           {"--epochs", "0"},
      {"--seconds", "0"},          {"--seconds", "-3"},         {"--seconds", "nan"},          {"--seed", "-1"},
      {"--pipeline", "augment"},   {"--start-method", "clone"}, {"--on-bad-sample", "ignore"}, {"--device", "tpu"},
      {"--sweep-workers", "1,,2"}, {"--sweep-workers", "1,x"},  {"--sweep-workers", ""},       {"--data", ""},
  };
  for (const auto& args : bad) {
    const ParseResult r = parse(args);
    EXPECT_FALSE(r.error.empty()) << args[0] << " " << args[1];
    EXPECT_NE(r.error.find(args[0]), std::string::npos) << r.error;
  }
}

TEST(BenchOptions, ColourInterpolationAndMaskFlagsAreParsed) {
  const ParseResult r = parse({"--data", "/d/img", "--color-jitter", "0.4,0.3,0.2,0.1", "--random-grayscale", "0.25",
                               "--interpolation", "bicubic", "--masks", "/d/masks"});
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.options.color_jitter, transforms::ColorJitter::from_strengths(0.4, 0.3, 0.2, 0.1));
  EXPECT_EQ(r.options.grayscale_p, 0.25);
  EXPECT_EQ(r.options.interpolation, transforms::Interpolation::kBicubic);
  EXPECT_EQ(r.options.masks, "/d/masks");
  EXPECT_FALSE(parse({}).options.color_jitter.enabled());
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--color-jitter", "0.4,0.4,0.4"},
                                             {"--color-jitter", "0.4,0.4,0.4,0.1,0"},
                                             {"--color-jitter", "0.4,x,0.4,0.1"},
                                             {"--color-jitter", "0.4,0.4,0.4,0.7"},
                                             {"--random-grayscale", "1.5"},
                                             {"--interpolation", "lanczos"},
                                             {"--masks", ""}}) {
    const ParseResult bad = parse(args);
    EXPECT_NE(bad.error.find(args[0]), std::string::npos) << args[0] << " " << args[1] << ": " << bad.error;
  }
  EXPECT_NE(parse({"--pipeline", "read", "--color-jitter", "0.1,0,0,0"}).error.find("decodes nothing"),
            std::string::npos);
  EXPECT_NE(parse({"--masks", "/d/m"}).error.find("--masks needs --data"), std::string::npos);
}

TEST(BenchOptions, MissingValueAndUnknownFlagAreErrors) {
  const std::string missing = parse({"--batch-size"}).error;
  EXPECT_NE(missing.find("--batch-size"), std::string::npos) << missing;
  EXPECT_NE(missing.find("missing"), std::string::npos) << missing;
  EXPECT_NE(parse({"--frobnicate"}).error.find("not expected: --frobnicate"), std::string::npos);
  EXPECT_NE(parse({"train"}).error.find("not expected: train"), std::string::npos);
  EXPECT_NE(parse({"--checksum=yes"}).error.find("checksum"), std::string::npos);
}

TEST(BenchOptions, StartMethodsAreParsed) {
  EXPECT_EQ(parse({"--start-method", "spawn"}).options.start_method, StartMethod::kSpawn);
  EXPECT_EQ(parse({"--start-method", "fork"}).options.start_method, StartMethod::kFork);
  EXPECT_EQ(parse({"--start-method", "auto"}).options.start_method, StartMethod::kAuto);
}

TEST(BenchOptions, SharingAndWorkerFailurePoliciesAreParsed) {
  EXPECT_EQ(parse({"--sharing", "file_system"}).options.sharing, Sharing::kFileSystem);
  EXPECT_EQ(parse({}).options.sharing, Sharing::kFileDescriptor);
  EXPECT_NE(parse({"--sharing", "posix"}).error.find("--sharing: must be file_descriptor or file_system, got 'posix'"),
            std::string::npos);
  EXPECT_EQ(parse({"--on-worker-failure", "respawn"}).options.on_worker_failure, OnWorkerFailure::kRespawn);
  EXPECT_NE(parse({"--on-worker-failure", "retry"}).error.find("must be error or respawn"), std::string::npos);
}

TEST(BenchOptions, ValuesAreRangeCheckedWithTheRangeInTheMessage) {
  EXPECT_EQ(parse({"--batch-size", "0"}).error, "--batch-size: must be an integer in 1..65536, got '0'");
  EXPECT_EQ(parse({"--workers", "x"}).error, "--workers: must be an integer in 0..1024, got 'x' (or auto)");
  EXPECT_EQ(parse({"--seconds", "inf"}).error, "--seconds: must be a number in (0, 1e+06], got 'inf'");
  EXPECT_EQ(parse({"--warmup-epochs", "-1"}).error, "--warmup-epochs: must be an integer in 0..1000000, got '-1'");
}

TEST(BenchOptions, WarmupEpochsOutputFilesAndTheirDefaults) {
  const ParseResult d = parse({});
  EXPECT_EQ(d.options.warmup_epochs, 0);
  EXPECT_TRUE(d.options.html_path.empty());
  EXPECT_TRUE(d.options.bad_samples_path.empty());
  const ParseResult r =
      parse({"--warmup-epochs", "2", "--html", "r.html", "--bad-samples", "bad.tsv", "--seconds", "1"});
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.options.warmup_epochs, 2);
  EXPECT_EQ(r.options.html_path, "r.html");
  EXPECT_EQ(r.options.bad_samples_path, "bad.tsv");
  for (const char* flag : {"--html", "--bad-samples", "--json", "--trace"})
    EXPECT_NE(parse({flag, ""}).error.find(flag), std::string::npos) << flag;
}

TEST(BenchOptions, GpuNormalizeNeedsCudaAndAUint8Pipeline) {
  const ParseResult ok = parse({"--gpu-normalize", "--device", "cuda", "--pipeline", "train_u8"});
  ASSERT_TRUE(ok.error.empty()) << ok.error;
  EXPECT_TRUE(ok.options.gpu_normalize);
  EXPECT_FALSE(parse({}).options.gpu_normalize);
  for (const auto& args : {std::vector<std::string>{"--gpu-normalize", "--pipeline", "train_u8"},
                           std::vector<std::string>{"--gpu-normalize", "--device", "cuda", "--pipeline", "train"}}) {
    const ParseResult r = parse(args);
    EXPECT_NE(r.error.find("--gpu-normalize"), std::string::npos) << r.error;
  }
}

TEST(BenchOptions, EpochsAndSecondsExcludeEachOther) {
  EXPECT_FALSE(parse({"--epochs", "2", "--seconds", "3"}).error.empty());
  EXPECT_FALSE(parse({"--seconds", "3", "--epochs", "2"}).error.empty());
  EXPECT_TRUE(parse({"--seconds", "3"}).error.empty());
}

TEST(BenchOptions, ChecksumIsAFlag) { EXPECT_TRUE(parse({"--checksum"}).options.checksum); }

TEST(BenchOptions, ChecksumNeedsHostBatches) {
  EXPECT_NE(parse({"--device", "cuda", "--checksum"}).error.find("--device cuda"), std::string::npos);
}

TEST(BenchOptions, TraceCannotBeCombinedWithASweep) {
  EXPECT_FALSE(parse({"--trace", "t.json", "--sweep-workers", "1,2"}).error.empty());
}

TEST(BenchOptions, HelpStopsParsing) {
  EXPECT_TRUE(parse({"--help"}).help);
  EXPECT_TRUE(parse({"--batch-size", "8", "-h", "--bogus"}).help);
}

TEST(BenchOptions, UsageMentionsEveryFlag) {
  const std::string u = usage();
  for (const char* flag :
       {"--data",          "--pipeline", "--batch-size",  "--workers",    "--threads",           "--prefetch",
        "--epochs",        "--seconds",  "--seed",        "--no-shuffle", "--start-method",      "--on-bad-sample",
        "--device",        "--json",     "--trace",       "--checksum",   "--sweep-workers",     "--no-progress",
        "--warmup-epochs", "--html",     "--bad-samples", "--sharing",    "--on-worker-failure", "--gpu-normalize"})
    EXPECT_NE(u.find(flag), std::string::npos) << flag;
}

TEST(BenchOptions, UsableCoresIsPositive) { EXPECT_GE(usable_cores(), 1); }

}  // namespace
}  // namespace ferry::bench
