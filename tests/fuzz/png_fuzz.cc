// libFuzzer target for PNG input: PngDecoder (header, every pixel format,
// label maps) and the PNG paths of ImagePipeline::run and MaskPipeline::run.
// Every input must end in an output or a ferry::BadSample: anything else (a
// crash, a leak, a sanitizer report, another exception) is a bug.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/error.h"
#include "tests/fuzz/fuzz_pipelines.h"
#include "transforms/mask_pipeline.h"
#include "transforms/png_decoder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ferry::transforms;
  static PngDecoder decoder;
  ferry::fuzz::decode_every_format(decoder, data, size);
  try {
    decoder.read_header(data, size, ferry::fuzz::kMaxPixels);
    decoder.decode_labels();
  } catch (const ferry::BadSample&) {
  }
  ferry::fuzz::run_pipelines(data, size);
  return 0;
}
