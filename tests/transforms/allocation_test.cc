// Steady state of ImagePipeline::run allocates nothing on the C++ heap: the
// decoded region, filter tables and row buffers live in per-thread scratch that
// only grows. (libjpeg's own per-image pools use malloc and are not counted.)
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "tools/gen_sample/sample_data.h"
#include "transforms/image_pipeline.h"

namespace {
std::atomic<long> g_news{0};
}  // namespace

// The replacements pair malloc with free, which GCC cannot see through.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

void* operator new(std::size_t n) {
  g_news.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace ferry::transforms {
namespace {

TEST(ImagePipelineAllocation, SteadyStateRunAllocatesNothingOnTheCppHeap) {
  std::vector<std::vector<uint8_t>> jpegs;
  for (int i = 0; i < 4; ++i)
    jpegs.push_back(
        sample::make_jpeg({.width = 300 + 50 * i, .height = 400 - 40 * i, .seed = static_cast<uint64_t>(i)}));
  for (const char* name : {"train", "val_u8"}) {
    const ImagePipeline p(PipelineSpec::named(name));
    std::vector<uint8_t> out(p.output_bytes());
    auto pass = [&](uint64_t epoch) {
      for (size_t i = 0; i < jpegs.size(); ++i) {
        Rng rng = Rng::for_sample(0, epoch, i);
        p.run(jpegs[i].data(), jpegs[i].size(), rng, out.data());
      }
    };
    for (uint64_t e = 0; e < 20; ++e) pass(e);  // warm-up: scratch grows to its high-water mark
    const long before = g_news.load();
    for (uint64_t e = 0; e < 5; ++e) pass(e);  // same samples, same crops: nothing new is needed
    EXPECT_EQ(g_news.load() - before, 0) << name;
  }
}

}  // namespace
}  // namespace ferry::transforms
