#include "loader/samplers/distributed_sampler.h"

#include <charconv>
#include <cstdlib>
#include <string_view>

#include "base/error.h"

namespace ferry {
namespace {

bool env_int(const std::function<const char*(const char*)>& getenv_fn, const char* name, int& out) {
  const char* v = getenv_fn(name);
  if (v == nullptr || *v == '\0') return false;
  const std::string_view s(v);
  const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || out < 0) {
    throw InvalidOption(std::string("environment variable ") + name + "='" + v + "' is not an integer >= 0");
  }
  return true;
}

void check(int rank, int world, const std::string& source) {
  if (world < 1 || rank < 0 || rank >= world) {
    throw InvalidOption("distributed rank " + std::to_string(rank) + " and world size " + std::to_string(world) +
                        " are inconsistent (need 0 <= rank < world_size), from " + source);
  }
}

}  // namespace

DistributedEnv detect_distributed_env(const std::function<const char*(const char*)>& getenv_fn) {
  DistributedEnv env;
  int rank = 0;
  int world = 0;
  const bool has_rank = env_int(getenv_fn, "RANK", rank);
  const bool has_world = env_int(getenv_fn, "WORLD_SIZE", world);
  if (has_rank || has_world) {
    if (!(has_rank && has_world)) throw InvalidOption("RANK and WORLD_SIZE must be set together (torchrun sets both)");
    env.rank = rank;
    env.world_size = world;
    env_int(getenv_fn, "LOCAL_RANK", env.local_rank);
    env.source = "torchrun (RANK=" + std::to_string(rank) + ", WORLD_SIZE=" + std::to_string(world) +
                 ", LOCAL_RANK=" + std::to_string(env.local_rank) + ")";
    check(env.rank, env.world_size, env.source);
    return env;
  }
  const bool has_procid = env_int(getenv_fn, "SLURM_PROCID", rank);
  const bool has_ntasks = env_int(getenv_fn, "SLURM_NTASKS", world);
  if (has_procid && has_ntasks) {
    env.rank = rank;
    env.world_size = world;
    env_int(getenv_fn, "SLURM_LOCALID", env.local_rank);
    env.source = "SLURM (SLURM_PROCID=" + std::to_string(rank) + ", SLURM_NTASKS=" + std::to_string(world) +
                 ", SLURM_LOCALID=" + std::to_string(env.local_rank) + ")";
    check(env.rank, env.world_size, env.source);
    return env;
  }
  env_int(getenv_fn, "LOCAL_RANK", env.local_rank);
  env.source = "default (single process: neither RANK/WORLD_SIZE nor SLURM_PROCID/SLURM_NTASKS set)";
  return env;
}

DistributedEnv detect_distributed_env() {
  return detect_distributed_env([](const char* name) -> const char* { return std::getenv(name); });
}

DistributedSampler::DistributedSampler(std::shared_ptr<const Sampler> inner, int rank, int world_size, Tail tail)
    : inner_(std::move(inner)), rank_(rank), world_size_(world_size), tail_(tail) {
  if (!inner_) throw InvalidOption("DistributedSampler: no inner sampler");
  check(rank, world_size, "DistributedSampler arguments");
}

std::shared_ptr<DistributedSampler> DistributedSampler::from_env(std::shared_ptr<const Sampler> inner, Tail tail) {
  const DistributedEnv env = detect_distributed_env();
  auto s = std::make_shared<DistributedSampler>(std::move(inner), env.rank, env.world_size, tail);
  s->source_ = env.source;
  return s;
}

int64_t DistributedSampler::length(int64_t dataset_size) const {
  const int64_t n = inner_->length(dataset_size);
  const int64_t w = world_size_;
  return tail_ == Tail::kDrop ? n / w : (n + w - 1) / w;
}

std::vector<int64_t> DistributedSampler::indices(uint64_t epoch, int64_t dataset_size) const {
  const std::vector<int64_t> all = inner_->indices(epoch, dataset_size);
  const int64_t per_rank = length(dataset_size);
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(per_rank));
  if (all.empty()) return out;
  const size_t n = all.size();
  for (int64_t k = 0; k < per_rank; ++k) {
    const size_t pos = static_cast<size_t>(rank_ + k * world_size_);
    out.push_back(all[pos % n]);  // pos >= n only in the padded tail: repeat from the head
  }
  return out;
}

std::string DistributedSampler::describe() const {
  return "distributed(rank " + std::to_string(rank_) + " of " + std::to_string(world_size_) + ", " +
         (tail_ == Tail::kPad ? "pad" : "drop_last") + ", from " + source_ + ") over " + inner_->describe();
}

}  // namespace ferry
