#include "tools/bench/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace ferry::bench {

ProgressStyle progress_style_for(std::FILE* out, bool enabled) {
  if (!enabled) return ProgressStyle::kNone;
  return isatty(fileno(out)) ? ProgressStyle::kBar : ProgressStyle::kLines;
}

Progress::Progress(std::FILE* out, ProgressStyle style, int64_t total_images, double total_seconds, std::string label)
    : out_(out),
      style_(style),
      total_images_(total_images),
      total_seconds_(total_seconds),
      label_(std::move(label)),
      next_print_s_(style == ProgressStyle::kBar ? 0.2 : 2.0) {}

std::string Progress::line(int64_t images, double elapsed_s) const {
  const double rate = elapsed_s > 0 ? double(images) / elapsed_s : 0;
  double fraction = 0;
  double eta = -1;
  if (total_images_ > 0) {
    fraction = double(images) / double(total_images_);
    if (rate > 0) eta = double(total_images_ - images) / rate;
  } else if (total_seconds_ > 0) {
    fraction = elapsed_s / total_seconds_;
    eta = total_seconds_ - elapsed_s;
  }
  fraction = std::clamp(fraction, 0.0, 1.0);
  char buf[256];
  std::string text = label_;
  if (!text.empty()) text += ' ';
  if (style_ == ProgressStyle::kBar) {
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(std::lround(fraction * kWidth));
    text += '[';
    text.append(size_t(filled), '#');
    text.append(size_t(kWidth - filled), '.');
    text += "] ";
  }
  if (total_images_ > 0) {
    std::snprintf(buf, sizeof(buf), "%lld/%lld images", static_cast<long long>(images),
                  static_cast<long long>(total_images_));
  } else {
    std::snprintf(buf, sizeof(buf), "%lld images", static_cast<long long>(images));
  }
  text += buf;
  std::snprintf(buf, sizeof(buf), "  %.0f img/s", rate);
  text += buf;
  if (eta >= 0) {
    std::snprintf(buf, sizeof(buf), "  ETA %.0fs", std::max(0.0, eta));
    text += buf;
  }
  return text;
}

void Progress::update(int64_t images, double elapsed_s) {
  if (style_ == ProgressStyle::kNone || elapsed_s < next_print_s_) return;
  next_print_s_ = elapsed_s + (style_ == ProgressStyle::kBar ? 0.2 : 2.0);
  if (style_ == ProgressStyle::kBar) {
    // Clear to the end of the line: the new text may be shorter.
    std::fprintf(out_, "\r%s\033[K", line(images, elapsed_s).c_str());
    drawn_ = true;
  } else {
    std::fprintf(out_, "%s\n", line(images, elapsed_s).c_str());
  }
  std::fflush(out_);
}

void Progress::finish() {
  if (style_ == ProgressStyle::kBar && drawn_) {
    std::fputs("\r\033[K", out_);
    std::fflush(out_);
  }
  drawn_ = false;
}

}  // namespace ferry::bench
