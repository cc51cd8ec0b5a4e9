#include "loader/samplers/tar_shard_sampler.h"

#include <algorithm>
#include <numeric>

#include "base/error.h"
#include "base/rng.h"
#include "loader/datasets/tar_shards.h"

namespace ferry {

namespace {
std::vector<int64_t> begins_of(const TarShards& shards) {
  std::vector<int64_t> b;
  for (int64_t s = 0; s <= shards.num_shards(); ++s) b.push_back(shards.shard_begin(s));
  return b;
}
}  // namespace

TarShardSampler::TarShardSampler(std::vector<int64_t> shard_begin, TarShardSamplerOptions options)
    : shard_begin_(std::move(shard_begin)), options_(options) {
  if (shard_begin_.size() < 2) throw InvalidOption("TarShardSampler: no shards");
  const int64_t shards = static_cast<int64_t>(shard_begin_.size()) - 1;
  if (options_.world_size < 1 || options_.rank < 0 || options_.rank >= options_.world_size) {
    throw InvalidOption("TarShardSampler: rank " + std::to_string(options_.rank) + " of world size " +
                        std::to_string(options_.world_size) + " (need 0 <= rank < world_size)");
  }
  if (shards < options_.world_size) {
    throw InvalidOption("TarShardSampler: " + std::to_string(shards) + " shards cannot be split over " +
                        std::to_string(options_.world_size) +
                        " ranks without overlap; write at least one shard per rank (better: several per worker)");
  }
  if (options_.shuffle_buffer < 0) throw InvalidOption("TarShardSampler: shuffle_buffer must be >= 0");
  for (size_t s = 1; s < shard_begin_.size(); ++s) {
    if (shard_begin_[s] < shard_begin_[s - 1]) throw InvalidOption("TarShardSampler: shard_begin is not sorted");
  }
}

TarShardSampler::TarShardSampler(const TarShards& shards, TarShardSamplerOptions options)
    : TarShardSampler(begins_of(shards), options) {}

std::vector<int64_t> TarShardSampler::order(uint64_t epoch) const {
  std::vector<int64_t> o(shard_begin_.size() - 1);
  std::iota(o.begin(), o.end(), 0);
  if (options_.order == ShardOrder::kShuffled) shuffle_in_place(o, options_.seed, epoch);
  return o;
}

std::vector<int64_t> TarShardSampler::shards_for_rank(uint64_t epoch) const {
  const std::vector<int64_t> o = order(epoch);
  std::vector<int64_t> mine;
  for (size_t k = static_cast<size_t>(options_.rank); k < o.size(); k += static_cast<size_t>(options_.world_size)) {
    mine.push_back(o[k]);
  }
  return mine;
}

std::vector<int64_t> TarShardSampler::shards_for_worker(uint64_t epoch, int worker, int num_workers) const {
  if (num_workers < 1 || worker < 0 || worker >= num_workers) {
    throw InvalidOption("TarShardSampler: worker " + std::to_string(worker) + " of " + std::to_string(num_workers));
  }
  const std::vector<int64_t> rank_shards = shards_for_rank(epoch);
  std::vector<int64_t> mine;
  for (size_t k = static_cast<size_t>(worker); k < rank_shards.size(); k += static_cast<size_t>(num_workers)) {
    mine.push_back(rank_shards[k]);
  }
  return mine;
}

std::vector<int64_t> TarShardSampler::stream(const std::vector<int64_t>& shards, uint64_t epoch,
                                             uint64_t stream_id) const {
  std::vector<int64_t> out;
  const size_t cap = static_cast<size_t>(options_.shuffle_buffer);
  Rng rng(mix_seed(mix_seed(options_.seed, epoch), stream_id));
  std::vector<int64_t> buf;
  buf.reserve(cap);
  for (int64_t s : shards) {
    for (int64_t i = shard_begin_[static_cast<size_t>(s)]; i < shard_begin_[static_cast<size_t>(s) + 1]; ++i) {
      if (cap <= 1) {
        out.push_back(i);
      } else if (buf.size() < cap) {
        buf.push_back(i);
      } else {
        const size_t j = static_cast<size_t>(rng.below(cap));
        out.push_back(buf[j]);
        buf[j] = i;
      }
    }
  }
  while (!buf.empty()) {
    const size_t j = static_cast<size_t>(rng.below(buf.size()));
    out.push_back(buf[j]);
    buf[j] = buf.back();
    buf.pop_back();
  }
  return out;
}

int64_t TarShardSampler::rank_count(int rank, uint64_t epoch) const {
  const std::vector<int64_t> o = order(epoch);
  int64_t n = 0;
  for (size_t k = static_cast<size_t>(rank); k < o.size(); k += static_cast<size_t>(options_.world_size)) {
    const size_t s = static_cast<size_t>(o[k]);
    n += shard_begin_[s + 1] - shard_begin_[s];
  }
  return n;
}

std::vector<int64_t> TarShardSampler::indices(uint64_t epoch, int64_t dataset_size) const {
  if (dataset_size != shard_begin_.back()) {
    throw InvalidOption("TarShardSampler: built for " + std::to_string(shard_begin_.back()) +
                        " samples, used with a dataset of " + std::to_string(dataset_size));
  }
  std::vector<int64_t> out = stream(shards_for_rank(epoch), epoch, static_cast<uint64_t>(options_.rank));
  if (options_.tail == ShardTail::kUneven) return out;
  const int64_t target = length(dataset_size);
  const size_t n = out.size();
  if (static_cast<int64_t>(n) > target) {
    out.resize(static_cast<size_t>(target));
  } else if (n > 0) {
    for (size_t k = n; static_cast<int64_t>(out.size()) < target; ++k) out.push_back(out[k % n]);
  }
  return out;
}

int64_t TarShardSampler::length(int64_t /*dataset_size*/) const {
  if (options_.tail == ShardTail::kUneven) return rank_count(options_.rank, 0);  // epoch 0's; see the header
  // A bound that holds for every shard permutation, so the length does not
  // change with the epoch: the largest (kPad) or smallest (kDrop) count any
  // rank can get. With equal-size shards both are the exact count.
  std::vector<int64_t> sizes;
  for (size_t s = 0; s + 1 < shard_begin_.size(); ++s) sizes.push_back(shard_begin_[s + 1] - shard_begin_[s]);
  std::sort(sizes.begin(), sizes.end());
  const size_t w = static_cast<size_t>(options_.world_size);
  int64_t total = 0;
  if (options_.tail == ShardTail::kPad) {
    const size_t take = (sizes.size() + w - 1) / w;
    for (size_t k = 0; k < take; ++k) total += sizes[sizes.size() - 1 - k];
  } else {
    const size_t take = sizes.size() / w;
    for (size_t k = 0; k < take; ++k) total += sizes[k];
  }
  return total;
}

std::string TarShardSampler::describe() const {
  return "tar_shards(rank " + std::to_string(options_.rank) + " of " + std::to_string(options_.world_size) + ", " +
         std::to_string(shard_begin_.size() - 1) + " shards, " +
         (options_.order == ShardOrder::kShuffled ? "shuffled" : "in order") + ", buffer " +
         std::to_string(options_.shuffle_buffer) + ", seed " + std::to_string(options_.seed) + ")";
}

}  // namespace ferry
