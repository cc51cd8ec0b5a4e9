#pragma once
// Hand-written cases shared by the host reference test and the GPU kernel test:
// both must produce exactly these values.
#include <array>
#include <cstdint>
#include <vector>

#include "cuda/convert_reference.h"

namespace ferry::cuda::testing {

// 2 samples of 2x3 RGB; byte (n, h, w, c) = 100n + 30h + 10w + c. Sample 1 is
// flipped. With mean 0 and stddev 1/255 every output is the byte value itself
// (within float rounding; exactly after rounding to float16 or bfloat16).
inline ConvertSpec layout_spec(DType out) {
  ConvertSpec s;
  s.batch = 2;
  s.height = 2;
  s.width = 3;
  s.channels = 3;
  s.out_dtype = out;
  s.mean = {0.f, 0.f, 0.f, 0.f};
  s.stddev = {1.f / 255.f, 1.f / 255.f, 1.f / 255.f, 1.f};
  return s;
}

inline std::vector<uint8_t> layout_input() {
  std::vector<uint8_t> in;
  for (int n = 0; n < 2; ++n)
    for (int h = 0; h < 2; ++h)
      for (int w = 0; w < 3; ++w)
        for (int c = 0; c < 3; ++c) in.push_back(static_cast<uint8_t>(100 * n + 30 * h + 10 * w + c));
  return in;
}

inline const std::array<uint8_t, 2> kLayoutFlips = {0, 1};

// N C H W, written out by hand.
inline const std::array<float, 36> kLayoutExpected = {
    // sample 0, not flipped: channel 0, 1, 2 (rows h0, h1)
    0, 10, 20, 30, 40, 50,  //
    1, 11, 21, 31, 41, 51,  //
    2, 12, 22, 32, 42, 52,  //
    // sample 1, flipped left-right
    120, 110, 100, 150, 140, 130,  //
    121, 111, 101, 151, 141, 131,  //
    122, 112, 102, 152, 142, 132,  //
};

// ImageNet normalization of bytes 0, 128 and 255 in each channel (one 1x3
// image, pixel w has value {0, 128, 255}[w] in every channel), computed by hand:
//   R: (0 - .485)/.229 = -2.117904   (128/255 - .485)/.229 = 0.074065   (1 - .485)/.229 = 2.248908
//   G: (0 - .456)/.224 = -2.035714   (128/255 - .456)/.224 = 0.205182   (1 - .456)/.224 = 2.428571
//   B: (0 - .406)/.225 = -1.804444   (128/255 - .406)/.225 = 0.426492   (1 - .406)/.225 = 2.640000
inline ConvertSpec imagenet_spec(DType out) {
  ConvertSpec s;
  s.batch = 1;
  s.height = 1;
  s.width = 3;
  s.channels = 3;
  s.out_dtype = out;
  s.mean = {0.485f, 0.456f, 0.406f, 0.f};
  s.stddev = {0.229f, 0.224f, 0.225f, 1.f};
  return s;
}
inline const std::array<uint8_t, 9> kImagenetInput = {0, 0, 0, 128, 128, 128, 255, 255, 255};
inline const std::array<float, 9> kImagenetExpected = {
    -2.117904f, 0.074065f, 2.248908f,  // R plane
    -2.035714f, 0.205182f, 2.428571f,  // G plane
    -1.804444f, 0.426492f, 2.640000f,  // B plane
};

}  // namespace ferry::cuda::testing
