// Iterable datasets: streams read in batches by their workers and delivered
// round-robin, the same bytes for any worker count, exactly once, resumable.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "base/error.h"
#include "loader/data_loader.h"
#include "tests/support/batch_bytes.h"
#include "tests/support/process_census.h"

namespace ferry {
namespace {

using testing::epoch_bytes;

// Stream s has length(s) samples; each writes (stream, position, a number
// from its own rng). Positions in `bad` are BadSamples; one in `kill_once`
// kills its worker the first time (a marker file remembers).
class CountingStreams final : public IterableDataset {
 public:
  explicit CountingStreams(std::vector<int64_t> lengths) : lengths_(std::move(lengths)) {}
  std::set<std::pair<int64_t, int64_t>> bad;
  std::pair<int64_t, int64_t> kill_once{-1, -1};
  std::string marker;

  Schema schema() const override {
    return {{"stream", DType::kInt64, {}, false, 0},
            {"position", DType::kInt64, {}, false, 0},
            {"random", DType::kInt64, {}, false, 0}};
  }
  int64_t streams(uint64_t, int) const override { return int64_t(lengths_.size()); }
  std::unique_ptr<SampleStream> open(const StreamContext& ctx) override {
    return std::make_unique<Stream>(*this, ctx.stream);
  }
  int64_t size_hint() const override {
    int64_t n = 0;
    for (int64_t l : lengths_) n += l;
    return n;
  }
  std::string describe() const override { return "CountingStreams"; }

 private:
  class Stream final : public SampleStream {
   public:
    Stream(const CountingStreams& ds, int64_t stream) : ds_(ds), stream_(stream) {}
    bool next(SampleContext& ctx, SampleWriter& out) override {
      if (at_ >= ds_.lengths_[size_t(stream_)]) return false;
      const int64_t position = at_++;
      EXPECT_EQ(ctx.index, position);
      if (ds_.bad.count({stream_, position})) throw BadSample("stream " + std::to_string(stream_) + " is bad here");
      if (ds_.kill_once == std::pair{stream_, position} && !std::filesystem::exists(ds_.marker)) {
        FILE* f = fopen(ds_.marker.c_str(), "w");
        if (f) fclose(f);
        kill(getpid(), SIGKILL);
      }
      *out.fixed_as<int64_t>(0) = stream_;
      *out.fixed_as<int64_t>(1) = position;
      *out.fixed_as<int64_t>(2) = int64_t(ctx.rng.next_u64());
      return true;
    }

   private:
    const CountingStreams& ds_;
    int64_t stream_;
    int64_t at_ = 0;
  };
  std::vector<int64_t> lengths_;
};

LoaderOptions options(int workers) {
  LoaderOptions o;
  o.batch_size = 4;
  o.num_workers = workers;
  o.seed = 11;
  return o;
}

// (stream, position) of every sample of one epoch, in delivery order.
std::vector<std::pair<int64_t, int64_t>> samples_of(DataLoader& loader) {
  std::vector<std::pair<int64_t, int64_t>> out;
  for (auto& b : loader)
    for (int64_t i = 0; i < b.size(); ++i)
      out.emplace_back(b["stream"].data_as<int64_t>()[i], b["position"].data_as<int64_t>()[i]);
  return out;
}

TEST(Iterable, EveryWorkerCountGivesTheSameBatchesRoundRobinOverTheStreams) {
  const testing::Census before = testing::take_census();
  {
    // Stream 1 ends at a batch boundary, stream 3 is empty.
    auto ds = std::make_shared<CountingStreams>(std::vector<int64_t>{10, 8, 3, 0, 13});
    DataLoader in_thread(ds, options(0));
    EXPECT_EQ(in_thread.size(), 9);  // from the size hint: ceil(34 / 4)
    const auto want = epoch_bytes(in_thread);
    // Round-robin: batch 0 of every stream, then batch 1, ...
    const auto order = samples_of(in_thread);
    ASSERT_EQ(order.size(), 34u);
    EXPECT_EQ(order[0], (std::pair<int64_t, int64_t>{0, 0}));
    EXPECT_EQ(order[4], (std::pair<int64_t, int64_t>{1, 0}));
    EXPECT_EQ(order[8], (std::pair<int64_t, int64_t>{2, 0}));
    EXPECT_EQ(order[11], (std::pair<int64_t, int64_t>{4, 0}));
    EXPECT_EQ(order[15], (std::pair<int64_t, int64_t>{0, 4}));
    std::set<std::pair<int64_t, int64_t>> seen(order.begin(), order.end());
    EXPECT_EQ(seen.size(), 34u) << "every sample exactly once";
    for (int workers : {1, 2, 3, 7}) {
      DataLoader loader(ds, options(workers));
      EXPECT_EQ(epoch_bytes(loader), want) << "workers=" << workers;
      EXPECT_EQ(epoch_bytes(loader).size(), want.size()) << "a second epoch";
    }
  }
  EXPECT_EQ(testing::wait_until_clean(before), "");
}

TEST(Iterable, DropLastDropsEachStreamsShortLastBatchOnly) {
  // Streams of 10 (4+4+2), 8 (ends at a boundary), 3 (only a short batch), 0.
  auto ds = std::make_shared<CountingStreams>(std::vector<int64_t>{10, 8, 3, 0});
  std::vector<std::pair<int64_t, int64_t>> want;
  for (int64_t p = 0; p < 8; ++p) want.emplace_back(0, p);
  for (int64_t p = 0; p < 8; ++p) want.emplace_back(1, p);
  std::sort(want.begin(), want.end());
  for (int workers : {0, 2, 3}) {
    LoaderOptions o = options(workers);
    o.drop_last = true;
    DataLoader loader(ds, o);
    for (int epoch = 0; epoch < 2; ++epoch) {
      int64_t batches = 0;
      std::vector<std::pair<int64_t, int64_t>> got;
      for (auto& b : loader) {
        EXPECT_EQ(b.size(), 4) << "workers=" << workers;
        ++batches;
        for (int64_t i = 0; i < b.size(); ++i)
          got.emplace_back(b["stream"].data_as<int64_t>()[i], b["position"].data_as<int64_t>()[i]);
      }
      std::sort(got.begin(), got.end());
      EXPECT_EQ(batches, 4) << "workers=" << workers;
      EXPECT_EQ(got, want) << "workers=" << workers << " epoch " << epoch;
    }
  }
}

TEST(Iterable, AsCompletedStillYieldsEverySampleOnce) {
  auto ds = std::make_shared<CountingStreams>(std::vector<int64_t>{21, 5, 17});
  LoaderOptions o = options(2);
  o.in_order = false;
  DataLoader loader(ds, o);
  const auto got = samples_of(loader);
  EXPECT_EQ(got.size(), 43u);
  EXPECT_EQ(std::set(got.begin(), got.end()).size(), 43u);
  // Within a stream, batches keep their order.
  std::map<int64_t, int64_t> last;
  for (const auto& [s, p] : got) {
    if (last.count(s)) {
      EXPECT_GT(p, last[s]);
    }
    last[s] = p;
  }
}

TEST(Iterable, AResumedRunContinuesExactlyWithAnotherWorkerCount) {
  auto ds = std::make_shared<CountingStreams>(std::vector<int64_t>{10, 8, 3, 13});
  DataLoader reference(ds, options(2));
  const auto all = epoch_bytes(reference);
  for (size_t k : {size_t(1), size_t(4), all.size() - 1}) {
    DataLoader first(ds, options(2));
    std::string saved;
    size_t n = 0;
    for (auto& b : first) {
      (void)b;
      if (++n == k) {
        saved = first.state().serialize();
        break;
      }
    }
    EXPECT_NE(saved.find(" streams="), std::string::npos) << saved;
    for (int workers : {0, 3}) {
      DataLoader resumed(ds, options(workers));
      resumed.load_state(LoaderState::parse(saved));
      const auto rest = epoch_bytes(resumed);
      EXPECT_EQ(rest, std::vector(all.begin() + ptrdiff_t(k), all.end())) << "k=" << k << " workers=" << workers;
    }
  }
}

TEST(Iterable, ARespawnedWorkerReopensItsStreamAndTheEpochStaysExact) {
  char tmpl[] = "/tmp/ferry-iterable-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  auto ds = std::make_shared<CountingStreams>(std::vector<int64_t>{10, 9, 12});
  const auto want = epoch_bytes(*std::make_unique<DataLoader>(ds, options(0)));
  ds->kill_once = {2, 6};
  ds->marker = dir + "/killed";
  LoaderOptions o = options(2);
  o.on_worker_failure = OnWorkerFailure::kRespawn;
  DataLoader loader(ds, o);
  EXPECT_EQ(epoch_bytes(loader), want);
  EXPECT_EQ(loader.stats().worker_respawns, 1);
  std::filesystem::remove_all(dir);
}

TEST(Iterable, BadSamplesAreDroppedFromTheirBatchOrZeroedOrFailIt) {
  auto ds = std::make_shared<CountingStreams>(std::vector<int64_t>{8, 8});
  ds->bad = {{0, 1}, {1, 6}};
  for (int workers : {0, 2}) {
    LoaderOptions o = options(workers);
    o.on_bad_sample = OnBadSample::kSkip;
    DataLoader skip(ds, o);
    const auto got = samples_of(skip);
    EXPECT_EQ(got.size(), 14u);
    EXPECT_EQ(std::count(got.begin(), got.end(), std::pair<int64_t, int64_t>{0, 1}), 0);
    EXPECT_EQ(skip.stats().skipped_samples, 2);
    o.on_bad_sample = OnBadSample::kSubstitute;
    DataLoader sub(ds, o);
    EXPECT_EQ(samples_of(sub).size(), 16u);
    EXPECT_EQ(sub.stats().substituted_samples, 2);
    o.on_bad_sample = OnBadSample::kError;
    DataLoader err(ds, o);
    try {
      epoch_bytes(err);
      ADD_FAILURE() << "no error";
    } catch (const SampleFailed& e) {
      EXPECT_EQ(e.sample_index(), 1);
      EXPECT_NE(std::string(e.what()).find("sample 1: stream 0: "), std::string::npos) << e.what();
    }
  }
}

TEST(Iterable, ShuffleAndSamplersAreRefusedNamingWhy) {
  auto ds = std::make_shared<CountingStreams>(std::vector<int64_t>{4});
  LoaderOptions o = options(1);
  o.shuffle = true;
  try {
    DataLoader loader(ds, o);
    ADD_FAILURE() << "no error";
  } catch (const InvalidOption& e) {
    EXPECT_NE(std::string(e.what()).find("iterable dataset"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ferry
