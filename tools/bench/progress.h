#pragma once
/// Progress while a run goes: on a terminal one line redrawn in place
///   [##########..........]  2560/5120 images   812 img/s  ETA 3s
/// otherwise a plain line every few seconds, or nothing at all.
#include <cstdint>
#include <cstdio>
#include <string>

namespace ferry::bench {

enum class ProgressStyle : uint8_t { kNone, kBar, kLines };

class Progress {
 public:
  /// `total_images` or `total_seconds` sizes the bar and the ETA (use the one
  /// that ends the run; the other 0). kBar redraws every 0.2 s, kLines prints
  /// every 2 s.
  Progress(std::FILE* out, ProgressStyle style, int64_t total_images, double total_seconds, std::string label);
  /// Reports `images` done after `elapsed_s`; prints when it is time to.
  void update(int64_t images, double elapsed_s);
  /// Ends the bar line (kBar) so the report starts on a fresh line.
  void finish();
  /// The line update() would print (for tests).
  std::string line(int64_t images, double elapsed_s) const;

 private:
  std::FILE* out_;
  ProgressStyle style_;
  int64_t total_images_;
  double total_seconds_;
  std::string label_;
  double next_print_s_ = 0;
  bool drawn_ = false;
};

/// kBar when `out` is a terminal, kLines otherwise, kNone when disabled.
ProgressStyle progress_style_for(std::FILE* out, bool enabled);

}  // namespace ferry::bench
