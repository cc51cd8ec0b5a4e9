// libFuzzer target for the decode + crop entry point (ImagePipeline::run) on
// JPEG input, the code that sees every untrusted byte of an image dataset
// (png_fuzz and webp_fuzz cover the other decoders). Every input must end in
// an output or a ferry::BadSample: anything else (a crash, a leak, a sanitizer
// report, another exception) is a bug.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/fuzz_pipelines.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ferry::fuzz::run_pipelines(data, size);
  return 0;
}
