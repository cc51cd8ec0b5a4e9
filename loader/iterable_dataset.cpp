#include "loader/iterable_dataset.h"

namespace ferry {

Rng stream_sample_rng(uint64_t seed, uint64_t epoch, int64_t stream, int64_t position) {
  // "stream" in ASCII keeps these apart from map-style samples' generators.
  return Rng::for_sample(mix_seed(mix_seed(seed, 0x73747265616dull), uint64_t(stream)), epoch, uint64_t(position));
}

}  // namespace ferry
