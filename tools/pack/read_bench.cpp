// ferry-read-bench: read throughput of the dataset formats beside a plain
// cat-style read of the same bytes, and ImageFolder indexing time.
//
//   ferry-read-bench prepare SRC OUT_DIR [--shards N]
//       packs SRC into OUT_DIR/data.ferry and OUT_DIR/shard-{000000..N-1}.tar
//       (same order, `.cls` = label), so all formats hold the same samples
//   ferry-read-bench read [--rounds R] [--stream-read-size BYTES] SPEC...
//       reads every sample of each SPEC (open_source forms) in index order,
//       CRC32C over bytes and labels, alternating with a cat-style read of the
//       same files (128 KiB read() calls, as cat); prints MB/s and the checksum
//   ferry-read-bench index DIR [--files N] [--classes C] [--rounds R]
//       makes DIR/cNNN/NNNNNNN.jpg (tiny files) unless DIR exists, then times
//       ImageFolder indexing (all cores and one thread) against a
//       std::filesystem walk + sort
//
// Exit status: 0 ok, 1 error, 2 usage (`--help` of each command says more).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/unique_fd.h"
#include "loader/datasets/crc32c.h"
#include "loader/datasets/open_source.h"
#include "loader/datasets/tar_shard_stream.h"
#include "tools/cli/cli.h"
#include "tools/pack/pack.h"
#include "tools/pack/tar_writer.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

/// cat: 128 KiB read() calls into a page-aligned buffer (what coreutils cat does), CRC32C of everything read.
uint64_t cat_files(const std::vector<std::string>& files, uint32_t& crc) {
  static ferry::ReadBuffer buf(128 << 10);  // page-aligned, as cat aligns its buffer
  uint64_t total = 0;
  for (const auto& f : files) {
    ferry::UniqueFd fd(::open(f.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw ferry::SystemError("open(" + f + ")", errno);
    for (;;) {
      const ssize_t r = ::read(fd.get(), buf.data(), buf.size());
      if (r < 0) throw ferry::SystemError("read(" + f + ")", errno);
      if (r == 0) break;
      crc = ferry::crc32c(buf.data(), static_cast<size_t>(r), crc);
      total += static_cast<uint64_t>(r);
    }
  }
  return total;
}

/// The files a cat of this source reads: the sample files, the shards or the packed file.
std::vector<std::string> files_of(const ferry::SampleSource& src, const std::string& spec) {
  std::vector<std::string> files;
  if (const auto* t = dynamic_cast<const ferry::TarShards*>(&src)) {
    for (int64_t s = 0; s < t->num_shards(); ++s) files.push_back(t->shard_path(s));
  } else if (dynamic_cast<const ferry::PackedFile*>(&src) != nullptr) {
    files.push_back(spec);
  } else {
    for (int64_t i = 0; i < src.size(); ++i) files.push_back(src.path(i));
  }
  return files;
}

struct PrepareArgs {
  std::string source;
  std::string out;
  int shards = 4;
};

int cmd_prepare(const PrepareArgs& args) {
  const std::string& out = args.out;
  const int shards = args.shards;
  std::filesystem::create_directories(out);
  const auto src = ferry::open_source(args.source);
  std::fprintf(stderr, "prepare: %s\n", src->describe().c_str());
  ferry::pack::pack(*src, out + "/data.ferry");
  ferry::ReadBuffer scratch;
  const int64_t n = src->size();
  for (int s = 0; s < shards; ++s) {
    char name[64];
    std::snprintf(name, sizeof name, "/shard-%06d.tar", s);
    ferry::pack::TarWriter tar(out + name);
    for (int64_t i = n * s / shards; i < n * (s + 1) / shards; ++i) {
      char key[32];
      std::snprintf(key, sizeof key, "%09lld", static_cast<long long>(i));
      tar.add(std::string(key) + ".jpg", src->read(i, scratch));
      tar.add_text(std::string(key) + ".cls", std::to_string(src->label(i)));
    }
    tar.finish();
  }
  std::printf("%s/data.ferry %s/shard-{000000..%06d}.tar\n", out.c_str(), out.c_str(), shards - 1);
  return 0;
}

struct ReadArgs {
  std::vector<std::string> specs;
  int rounds = 5;
  int64_t stream_read_size = int64_t{1} << 20;
};

int cmd_read(const ReadArgs& args) {
  const int rounds = args.rounds;
  const size_t stream_read_size = static_cast<size_t>(args.stream_read_size);
  const std::vector<std::string>& specs = args.specs;
  struct Run {
    std::shared_ptr<ferry::SampleSource> src;      // CRC off: the loop checksums every byte anyway
    std::shared_ptr<ferry::SampleSource> checked;  // default options (packed: per-record CRC on)
    std::vector<std::string> files;
    std::vector<double> ours, cat, verified, stream;
    uint64_t bytes = 0;
    uint32_t checksum = 0;
  };
  std::vector<Run> runs;
  for (const auto& spec : specs) {
    ferry::SourceOptions opts;
    opts.packed.verify = ferry::Verify::kNone;
    Run r;
    r.src = ferry::open_source(spec, opts);
    r.checked = ferry::open_source(spec);
    r.files = files_of(*r.src, spec);
    runs.push_back(std::move(r));
  }
  ferry::ReadBuffer scratch(64 << 20);  // no buffer growth inside the timed loops
  // Rounds alternate over all formats (and ferry vs cat inside each), so load
  // from other processes hits every column alike; round 0 warms the page cache.
  for (int round = 0; round <= rounds; ++round) {
    for (auto& r : runs) {
      auto t0 = Clock::now();
      uint32_t crc = 0;
      r.bytes = 0;
      for (int64_t i = 0; i < r.src->size(); ++i) {
        const auto b = r.src->read(i, scratch);
        const int64_t label = r.src->label(i);
        crc = ferry::crc32c(b.data(), b.size(), crc);
        crc = ferry::crc32c(&label, sizeof label, crc);
        r.bytes += b.size();
      }
      const double t_ours = seconds_since(t0);
      r.checksum = crc;
      t0 = Clock::now();
      uint32_t cat_crc = 0;
      const uint64_t cat_bytes = cat_files(r.files, cat_crc);
      const double t_cat = seconds_since(t0);
      double t_verified = t_ours;
      if (dynamic_cast<const ferry::PackedFile*>(r.checked.get()) != nullptr) {
        t0 = Clock::now();
        for (int64_t i = 0; i < r.checked->size(); ++i) r.checked->read(i, scratch);
        t_verified = seconds_since(t0);
      }
      double t_stream = t_ours;
      if (const auto* tar = dynamic_cast<const ferry::TarShards*>(r.src.get())) {
        t0 = Clock::now();
        std::vector<std::string> paths;
        for (int64_t s = 0; s < tar->num_shards(); ++s) paths.push_back(tar->shard_path(s));
        ferry::TarShardStream stream(paths, {}, stream_read_size);
        ferry::TarShardStream::Sample x;
        uint32_t scrc = 0;
        while (stream.next(x)) {
          scrc = ferry::crc32c(x.bytes.data(), x.bytes.size(), scrc);
          scrc = ferry::crc32c(&x.label, sizeof x.label, scrc);
        }
        t_stream = seconds_since(t0);
        if (scrc != crc) throw ferry::DataError("tar stream checksum differs from the indexed read");
      }
      if (round > 0) {
        r.stream.push_back(static_cast<double>(r.bytes) / 1e6 / t_stream);
        r.ours.push_back(static_cast<double>(r.bytes) / 1e6 / t_ours);
        r.cat.push_back(static_cast<double>(cat_bytes) / 1e6 / t_cat);
        r.verified.push_back(static_cast<double>(r.bytes) / 1e6 / t_verified);
      }
    }
  }
  std::printf("%-12s %8s %9s %12s %12s %10s  %s\n", "format", "samples", "MB", "ferry MB/s", "cat MB/s", "ratio",
              "checksum (bytes+labels)");
  for (const auto& r : runs) {
    std::string kind = "ImageFolder";
    if (dynamic_cast<const ferry::TarShards*>(r.src.get())) kind = "tar shards";
    if (dynamic_cast<const ferry::PackedFile*>(r.src.get())) kind = "packed";
    if (dynamic_cast<const ferry::FileList*>(r.src.get())) kind = "file list";
    std::printf("%-12s %8lld %9.1f %12.0f %12.0f %10.2f  %08x\n", kind.c_str(), static_cast<long long>(r.src->size()),
                static_cast<double>(r.bytes) / 1e6, median(r.ours), median(r.cat), median(r.ours) / median(r.cat),
                r.checksum);
    if (kind == "tar shards") {
      std::printf("%-12s %8s %9s %12.0f %12s %10.2f  (TarShardStream: %zu KiB read() calls, no index)\n", "tar stream",
                  "", "", median(r.stream), "", median(r.stream) / median(r.cat), stream_read_size >> 10);
    }
    if (kind == "packed") {
      std::printf("%-12s %8s %9s %12.0f %12s %10s  (read() alone, per-record CRC32C on)\n", "packed+crc", "", "",
                  median(r.verified), "", "");
    }
  }
  std::printf(
      "(median of %d rounds after one warm-up; MB = 1e6 bytes; cat MB counts whole files incl. tar headers "
      "and .ferry padding)\n",
      rounds);
  return 0;
}

struct IndexArgs {
  std::string dir;
  int files = 100000;
  int classes = 100;
  int rounds = 5;
};

int cmd_index(const IndexArgs& args) {
  const std::string& dir = args.dir;
  const int files = args.files, classes = args.classes, rounds = args.rounds;
  if (!std::filesystem::exists(dir)) {
    const auto t0 = Clock::now();
    for (int c = 0; c < classes; ++c) {
      char cls[32];
      std::snprintf(cls, sizeof cls, "/c%04d", c);
      std::filesystem::create_directories(dir + cls);
    }
    for (int i = 0; i < files; ++i) {
      char name[64];
      std::snprintf(name, sizeof name, "/c%04d/%07d.jpg", i % classes, i);
      ferry::UniqueFd fd(::open((dir + name).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
      if (!fd || ::write(fd.get(), name, 16) != 16) throw ferry::SystemError("create " + dir + name, errno);
    }
    std::fprintf(stderr, "index: made %d files in %d classes under %s in %.1f s\n", files, classes, dir.c_str(),
                 seconds_since(t0));
  }
  std::vector<double> all, one, naive;
  int64_t found = 0;
  for (int r = 0; r < rounds + 1; ++r) {
    ferry::ImageFolder f(dir);
    const double a = f.index_seconds();
    found = f.size();
    ferry::ImageFolder f1(dir, {.index_threads = 1});
    const double b = f1.index_seconds();
    const auto t0 = Clock::now();
    // A plain walk the way a script would do it: directory_iterator per class, sort.
    std::vector<std::string> cls;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      if (e.is_directory()) cls.push_back(e.path().filename().string());
    }
    std::sort(cls.begin(), cls.end());
    size_t n = 0;
    for (const auto& c : cls) {
      std::vector<std::string> names;
      for (const auto& e : std::filesystem::recursive_directory_iterator(dir + "/" + c)) {
        if (e.is_regular_file()) names.push_back(e.path().string());
      }
      std::sort(names.begin(), names.end());
      n += names.size();
    }
    const double c = seconds_since(t0);
    if (n != static_cast<size_t>(found))
      std::fprintf(stderr, "index: walk found %zu, ImageFolder %lld\n", n, static_cast<long long>(found));
    if (r > 0) {
      all.push_back(a);
      one.push_back(b);
      naive.push_back(c);
    }
  }
  std::printf("files %lld in %s\n", static_cast<long long>(found), dir.c_str());
  std::printf("ImageFolder, all cores : %8.1f ms  (%.2f M files/s)\n", median(all) * 1e3, found / median(all) / 1e6);
  std::printf("ImageFolder, 1 thread  : %8.1f ms  (%.2f M files/s)\n", median(one) * 1e3, found / median(one) / 1e6);
  std::printf("std::filesystem walk   : %8.1f ms  (%.2f M files/s)\n", median(naive) * 1e3,
              found / median(naive) / 1e6);
  std::printf("(median of %d rounds after one warm-up; dentry/inode caches warm)\n", rounds);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  using ferry::cli::integer_in;
  CLI::App app{"Read throughput of the dataset formats beside a plain cat-style read, and ImageFolder indexing time.",
               "ferry-read-bench"};
  app.require_subcommand(1);
  app.footer("Exit status: 0 ok, 1 error, 2 bad usage.");

  PrepareArgs prepare;
  CLI::App* prepare_cmd =
      app.add_subcommand("prepare", "pack SRC into OUT_DIR/data.ferry and OUT_DIR/shard-NNNNNN.tar (same order)");
  prepare_cmd->add_option("SRC", prepare.source, "any open_source() form")->required();
  prepare_cmd->add_option("OUT_DIR", prepare.out, "where the packed file and the shards go")->required();
  prepare_cmd->add_option("--shards", prepare.shards, "tar shards")
      ->check(integer_in(1, 100000))
      ->capture_default_str();

  ReadArgs read;
  CLI::App* read_cmd = app.add_subcommand(
      "read", "read every sample of each SPEC in index order (CRC32C), alternating with a cat of the same files");
  read_cmd->add_option("SPEC", read.specs, "open_source() forms")->required();
  read_cmd->add_option("--rounds", read.rounds, "measured rounds")->check(integer_in(1, 1000))->capture_default_str();
  read_cmd->add_option("--stream-read-size", read.stream_read_size, "bytes per read() of the tar stream reader")
      ->check(integer_in(4096, int64_t{1} << 30))
      ->capture_default_str();

  IndexArgs index;
  CLI::App* index_cmd =
      app.add_subcommand("index", "make DIR/cNNNN/NNNNNNN.jpg unless DIR exists, then time ImageFolder indexing");
  index_cmd->add_option("DIR", index.dir, "the folder")->required();
  index_cmd->add_option("--files", index.files, "files to make")
      ->check(integer_in(1, 100'000'000))
      ->capture_default_str();
  index_cmd->add_option("--classes", index.classes, "class folders")
      ->check(integer_in(1, 100000))
      ->capture_default_str();
  index_cmd->add_option("--rounds", index.rounds, "measured rounds")->check(integer_in(1, 1000))->capture_default_str();

  if (const auto status = ferry::cli::parse(app, argc, argv)) return *status;
  try {
    if (prepare_cmd->parsed()) return cmd_prepare(prepare);
    if (read_cmd->parsed()) return cmd_read(read);
    return cmd_index(index);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ferry-read-bench: error: %s\n", e.what());
    return 1;
  }
}
