#include "loader/datasets/tar_shard_iterable.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <sstream>

#include "base/error.h"
#include "base/rng.h"
#include "loader/builtin_datasets.h"
#include "loader/datasets/tar_shard_stream.h"
#include "trace/trace.h"

namespace ferry {
namespace {

// One lane: its shards read in order, through the shuffle buffer.
class Lane final : public SampleStream {
 public:
  Lane(std::vector<std::string> shards, const TarShardsOptions& tar, size_t buffer, uint64_t rng_seed,
       std::shared_ptr<const transforms::ImagePipeline> pipeline)
      : reader_(std::move(shards), tar), cap_(buffer), rng_(rng_seed), pipeline_(std::move(pipeline)) {}

  bool next(SampleContext& ctx, SampleWriter& out) override {
    Held x;
    if (!take(x)) return false;
    if (!pipeline_) {
      std::memcpy(out.ragged(0, int64_t(x.bytes.size())), x.bytes.data(), x.bytes.size());
    } else {
      transforms::DecodeReport report;
      try {
        pipeline_->run(x.bytes.data(), x.bytes.size(), ctx.rng, out.fixed(0), &report);
      } catch (const BadSample& e) {
        throw BadSample(x.key + ": " + e.what());
      }
      ctx.warnings += report.warnings;
    }
    *out.fixed_as<int64_t>(1) = x.label;
    return true;
  }

  int64_t skip(int64_t n) override {
    Held x;
    int64_t done = 0;
    while (done < n && take(x)) ++done;  // reads and replays the buffer; decodes nothing
    return done;
  }

 private:
  struct Held {
    std::string key;
    std::vector<uint8_t> bytes;
    int64_t label = -1;
  };

  bool read_one(Held& x) {
    TarShardStream::Sample s;
    {
      trace::ScopedStage read(trace::Stage::kRead);
      if (!reader_.next(s)) return false;
    }
    x.key = s.key;
    x.bytes.assign(s.bytes.begin(), s.bytes.end());
    x.label = s.label;
    return true;
  }

  // The buffer's next sample by TarShardSampler's rule.
  bool take(Held& x) {
    if (cap_ <= 1) return read_one(x);
    while (!drained_ && buf_.size() < cap_) {
      Held in;
      if (!read_one(in)) {
        drained_ = true;
        break;
      }
      buf_.push_back(std::move(in));
    }
    if (buf_.empty()) return false;
    if (!drained_) {
      // Full: emit a random one and put the next incoming in its place.
      const size_t j = size_t(rng_.below(cap_));
      x = std::move(buf_[j]);
      Held in;
      if (read_one(in)) {
        buf_[j] = std::move(in);
      } else {
        drained_ = true;
        buf_[j] = std::move(buf_.back());
        buf_.pop_back();
      }
      return true;
    }
    const size_t j = size_t(rng_.below(buf_.size()));
    x = std::move(buf_[j]);
    buf_[j] = std::move(buf_.back());
    buf_.pop_back();
    return true;
  }

  TarShardStream reader_;
  size_t cap_;
  Rng rng_;
  std::shared_ptr<const transforms::ImagePipeline> pipeline_;
  std::vector<Held> buf_;
  bool drained_ = false;
};

}  // namespace

TarShardIterable::TarShardIterable(std::string pattern, transforms::PipelineSpec pipeline,
                                   TarShardIterableOptions options)
    : pattern_(std::move(pattern)),
      shards_(expand_braces(pattern_)),
      spec_(std::move(pipeline)),
      raw_(spec_.name == "raw"),
      options_(std::move(options)) {
  if (shards_.empty()) throw InvalidOption("ferry: TarShardIterable: '" + pattern_ + "' names no shard");
  if (options_.streams < 1) throw InvalidOption("ferry: TarShardIterable: streams must be >= 1");
  if (options_.shuffle_buffer < 0) throw InvalidOption("ferry: TarShardIterable: shuffle_buffer must be >= 0");
  if (options_.world_size < 1 || options_.rank < 0 || options_.rank >= options_.world_size)
    throw InvalidOption("ferry: TarShardIterable: rank " + std::to_string(options_.rank) + " of world size " +
                        std::to_string(options_.world_size) + " (need 0 <= rank < world_size)");
  if (int64_t(shards_.size()) < options_.world_size)
    throw InvalidOption("ferry: TarShardIterable: " + std::to_string(shards_.size()) + " shards cannot be split over " +
                        std::to_string(options_.world_size) +
                        " ranks without overlap; write at least one shard per rank (better: several per worker)");
  if (!raw_) pipeline_ = std::make_shared<transforms::ImagePipeline>(spec_);
}

Schema TarShardIterable::schema() const {
  FieldSpec label{.name = "label", .dtype = DType::kInt64, .shape = {}};
  if (raw_)
    return {FieldSpec{.name = "bytes", .dtype = DType::kUInt8, .ragged = true, .ragged_capacity = 256 << 10}, label};
  return {FieldSpec{.name = "image", .dtype = pipeline_->output_dtype(), .shape = pipeline_->output_shape()}, label};
}

int64_t TarShardIterable::streams(uint64_t, int) const {
  // The rank's shard count is the same in every epoch (every permutation
  // gives rank r the same number), and so are the lanes.
  const int64_t shards = int64_t(shards_.size());
  const int64_t mine = (shards - options_.rank + options_.world_size - 1) / options_.world_size;
  return std::min(options_.streams, mine);
}

std::vector<std::string> TarShardIterable::shards_of(int64_t stream, uint64_t epoch, uint64_t seed) const {
  std::vector<int64_t> order(shards_.size());
  std::iota(order.begin(), order.end(), 0);
  if (options_.order == ShardOrder::kShuffled) shuffle_in_place(order, seed, epoch);
  std::vector<int64_t> rank_shards;
  for (size_t k = size_t(options_.rank); k < order.size(); k += size_t(options_.world_size))
    rank_shards.push_back(order[k]);
  const int64_t lanes = streams(epoch, 0);
  std::vector<std::string> out;
  for (size_t k = size_t(stream); k < rank_shards.size(); k += size_t(lanes))
    out.push_back(shards_[size_t(rank_shards[k])]);
  return out;
}

std::unique_ptr<SampleStream> TarShardIterable::open(const StreamContext& ctx) {
  if (ctx.stream < 0 || ctx.stream >= streams(ctx.epoch, ctx.num_workers))
    throw InvalidOption("ferry: TarShardIterable: no stream " + std::to_string(ctx.stream));
  const uint64_t rng_seed = mix_seed(mix_seed(ctx.seed, ctx.epoch), uint64_t(ctx.stream));
  return std::make_unique<Lane>(shards_of(ctx.stream, ctx.epoch, ctx.seed), options_.tar,
                                size_t(options_.shuffle_buffer), rng_seed, pipeline_);
}

std::string TarShardIterable::describe() const {
  return "TarShardIterable(" + pattern_ + ", " + std::to_string(shards_.size()) + " shards, " +
         std::to_string(options_.streams) + " streams, shuffle buffer " + std::to_string(options_.shuffle_buffer) +
         ", pipeline " + spec_.name + ")";
}

DatasetSpec TarShardIterable::spec() const {
  // Line 1: the options; line 2: the pipeline; line 3: the pattern. Custom
  // member extensions are not carried: such a dataset runs under fork only.
  if (options_.tar.image_extensions != TarShardsOptions{}.image_extensions ||
      options_.tar.label_extension != TarShardsOptions{}.label_extension)
    return {};
  std::ostringstream o;
  o << options_.streams << " " << int(options_.order) << " " << options_.shuffle_buffer << " " << options_.rank << " "
    << options_.world_size << "\n"
    << (raw_ ? std::string("raw") : serialize_pipeline(spec_)) << "\n"
    << pattern_;
  return {"tar-stream", o.str()};
}

std::shared_ptr<TarShardIterable> TarShardIterable::from_args(const std::string& args) {
  std::istringstream in(args);
  TarShardIterableOptions o;
  int order = 0;
  in >> o.streams >> order >> o.shuffle_buffer >> o.rank >> o.world_size;
  o.order = static_cast<ShardOrder>(order);
  std::string line, pipeline, pattern;
  std::getline(in, line);  // the rest of the first line
  std::getline(in, pipeline);
  std::getline(in, pattern);
  if (!in && pattern.empty()) throw InvalidOption("ferry: bad tar-stream dataset args");
  transforms::PipelineSpec spec;
  if (pipeline == "raw")
    spec.name = "raw";
  else
    spec = parse_pipeline(pipeline);
  return std::make_shared<TarShardIterable>(pattern, spec, o);
}

}  // namespace ferry
