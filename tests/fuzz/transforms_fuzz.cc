// libFuzzer target for the decode + crop entry point (ImagePipeline::run), the
// code that sees every untrusted byte of an image dataset. Every input must end
// in an output or a ferry::BadSample: anything else (a crash, a leak, a sanitizer
// report, another exception) is a bug.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/error.h"
#include "base/rng.h"
#include "transforms/image_pipeline.h"

namespace {

using ferry::transforms::ImagePipeline;
using ferry::transforms::PipelineSpec;

PipelineSpec spec(const char* name, int size, bool gray) {
  PipelineSpec s = PipelineSpec::named(name, size);
  s.max_pixels = 4'000'000;  // keep each input cheap; the limit itself is tested in jpeg_decoder_test
  s.grayscale = gray;
  s.exif_orientation = true;
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ImagePipeline pipelines[] = {ImagePipeline(spec("train", 32, false)),
                                            ImagePipeline(spec("val_u8", 48, false)),
                                            ImagePipeline(spec("decode", 16, true))};
  static std::vector<uint8_t> out(pipelines[0].output_bytes() * 4);
  ferry::Rng rng(size);
  for (const ImagePipeline& p : pipelines) {
    try {
      p.run(data, size, rng, out.data());
    } catch (const ferry::BadSample&) {
    }
  }
  return 0;
}
