// Steady state of ImagePipeline::run (and MaskPipeline::run) allocates nothing
// on the C++ heap, for JPEG, PNG and WebP, with colour augmentation: the
// decoded image, filter tables, row buffers and the contrast's held rows live
// in per-thread scratch that only grows. (libjpeg's per-image pools, libspng's
// context and libwebp's decoder use malloc and are not counted.)
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "tools/gen_sample/sample_data.h"
#include "tools/gen_sample/sample_png.h"
#include "tools/gen_sample/sample_webp.h"
#include "transforms/image_pipeline.h"
#include "transforms/mask_pipeline.h"

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

TEST(ImagePipelineAllocation, PngWebpColourAndMasksAllocateNothingOnTheCppHeapOnceWarm) {
  std::vector<std::vector<uint8_t>> images = {
      sample::make_png({.width = 300, .height = 240, .seed = 1}),
      sample::make_png({.width = 260, .height = 300, .color = sample::PngColor::kPalette, .interlaced = true}),
      sample::make_webp({.width = 280, .height = 220, .seed = 2}),
      sample::make_webp({.width = 200, .height = 180, .kind = sample::WebpKind::kLossless, .alpha = true})};
  PipelineSpec spec = PipelineSpec::named("train");
  spec.color_jitter = ColorJitter::from_strengths(0.4, 0.4, 0.4, 0.1);  // contrast: the two-pass path
  spec.grayscale_p = 0.2;
  const ImagePipeline p(spec);
  const MaskPipeline m(spec, DType::kInt64);
  const auto mask = sample::make_mask_png({.width = 300, .height = 240});
  std::vector<uint8_t> out(p.output_bytes()), mask_out(m.output_bytes());
  auto pass = [&](uint64_t epoch) {
    for (size_t i = 0; i < images.size(); ++i) {
      Rng rng = Rng::for_sample(0, epoch, i);
      DecodeReport r;
      p.run(images[i].data(), images[i].size(), rng, out.data(), &r);
      if (i == 0) m.run(mask.data(), mask.size(), r, mask_out.data());
    }
  };
  for (uint64_t e = 0; e < 20; ++e) pass(e);
  const long before = g_news.load();
  for (uint64_t e = 0; e < 5; ++e) pass(e);
  EXPECT_EQ(g_news.load() - before, 0);
}

}  // namespace
}  // namespace ferry::transforms
