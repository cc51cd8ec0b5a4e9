#pragma once
// Internal: a ColorDraw applied to the resampler's finished rows.
//
// Brightness, saturation, hue and grayscale are per pixel, so they run on
// each row as it leaves the horizontal pass, before the store. Contrast needs
// the mean gray of the whole image as it is at that point of the order: rows
// then stop at the contrast, go into a float copy of the image while their
// gray sum is taken, and finish() applies the contrast and the operations
// after it and stores every row.
#include <vector>

#include "transforms/color_jitter.h"
#include "transforms/detail/resample.h"

namespace ferry::transforms::detail {

class ColorStage final : public RowStage {
 public:
  /// Prepares for one image of width x height. `image` is grow-only storage
  /// for the held rows (used only when the draw has a contrast).
  void start(const ColorDraw& draw, int width, int height, std::vector<float>& image);
  bool process(float* row, int channels, int y) override;
  /// Stores the held rows, if any, after the contrast and what follows it.
  void finish(const OutputFormat& format, void* out);

 private:
  // Applies order_[begin, end) (skipping ops that are off) and, at the end of
  // the chain, the grayscale, to one row.
  void apply(float* row, int channels, size_t begin, size_t end, bool last) const;

  ColorDraw draw_;
  size_t contrast_at_ = 4;  // position of the contrast in the order; 4: none
  int width_ = 0, height_ = 0, channels_ = 0;
  double gray_sum_ = 0;
  float mean_ = 0;
  std::vector<float>* image_ = nullptr;
};

}  // namespace ferry::transforms::detail
