#pragma once
/// The one random generator of ferry, fully specified so the same seed gives
/// the same numbers on every machine and compiler (std:: distributions are
/// implementation-defined, so none is used).
///
/// Engine: xoshiro256** seeded through SplitMix64. Per-sample generators come
/// from Rng::for_sample(seed, epoch, index), so a sample's randomness does not
/// depend on which worker, thread or batch produced it.
#include <cstdint>

namespace ferry {

__extension__ using uint128_t = unsigned __int128;

constexpr uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// A 64-bit hash of (a, b), used to derive independent seeds.
constexpr uint64_t mix_seed(uint64_t a, uint64_t b) {
  uint64_t s = a ^ (b * 0xD1B54A32D192ED03ull);
  splitmix64(s);
  return splitmix64(s);
}

class Rng {
 public:
  explicit constexpr Rng(uint64_t seed) {
    for (auto& w : s_) w = splitmix64(seed);
  }

  static constexpr Rng for_sample(uint64_t seed, uint64_t epoch, uint64_t index) {
    return Rng(mix_seed(mix_seed(seed, epoch), index));
  }

  constexpr uint64_t next_u64() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  /// Uniform in [0, 1) with 53 random bits.
  constexpr double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }
  /// Uniform in [lo, hi).
  constexpr double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Uniform integer in [0, n), n > 0, without modulo bias (Lemire's method).
  constexpr uint64_t below(uint64_t n) {
    uint128_t m = static_cast<uint128_t>(next_u64()) * n;
    uint64_t low = static_cast<uint64_t>(m);
    if (low < n) {
      const uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        m = static_cast<uint128_t>(next_u64()) * n;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }

 private:
  static constexpr uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4]{};
};

}  // namespace ferry
