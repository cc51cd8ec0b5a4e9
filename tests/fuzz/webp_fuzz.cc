// libFuzzer target for WebP input: WebpDecoder (still and animated, every
// pixel format) and the WebP paths of ImagePipeline::run. Every input must end
// in an output or a ferry::BadSample: anything else is a bug.
#include <cstddef>
#include <cstdint>

#include "base/error.h"
#include "tests/fuzz/fuzz_pipelines.h"
#include "transforms/webp_decoder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ferry::transforms;
  static WebpDecoder decoder;
  ferry::fuzz::decode_every_format(decoder, data, size);
  ferry::fuzz::run_pipelines(data, size);
  return 0;
}
