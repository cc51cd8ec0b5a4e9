#include "loader/detail/epoch_plan.h"

#include <algorithm>

namespace ferry::detail {

EpochPlan::EpochPlan(uint64_t epoch, const std::vector<int64_t>& order, int64_t batch_size, bool drop_last,
                     const std::vector<int64_t>& consumed)
    : epoch_(epoch) {
  const auto bs = size_t(batch_size);
  for (size_t at = 0; at < order.size(); at += bs) {
    const size_t end = std::min(order.size(), at + bs);
    if (end - at < bs && drop_last) break;
    batches_.emplace_back(order.begin() + ptrdiff_t(at), order.begin() + ptrdiff_t(end));
  }
  delivered_.assign(batches_.size(), 0);
  handed_out_.assign(batches_.size(), 0);
  for (int64_t b : consumed)
    if (b >= 0 && size_t(b) < batches_.size() && !delivered_[size_t(b)]) mark_delivered(size_t(b));
}

std::vector<int64_t> EpochPlan::delivered() const {
  std::vector<int64_t> out;
  for (size_t b = 0; b < delivered_.size(); ++b)
    if (delivered_[b]) out.push_back(int64_t(b));
  return out;
}

std::optional<BatchPlan::Work> EpochPlan::next_to_submit(const std::function<bool(int)>& accepts) {
  while (next_submit_ < batches_.size() && (delivered_[next_submit_] || handed_out_[next_submit_])) ++next_submit_;
  if (next_submit_ >= batches_.size() || !accepts(-1)) return std::nullopt;
  return Work{next_submit_, batches_[next_submit_], -1};
}

std::optional<BatchPlan::Work> EpochPlan::next_in_thread() const {
  if (next_deliver_ >= batches_.size()) return std::nullopt;
  return Work{next_deliver_, batches_[next_deliver_], -1};
}

void EpochPlan::submitted(uint64_t task_id, const Work& work) {
  handed_out_[work.key] = 1;
  with_workers_.emplace(task_id, work.key);
}

bool EpochPlan::arrived(workers::Completion c) {
  auto it = with_workers_.find(c.task_id);
  if (it == with_workers_.end()) return false;
  arrived_.emplace(it->second, std::move(c));
  with_workers_.erase(it);
  return true;
}

std::optional<std::pair<size_t, workers::Completion>> EpochPlan::take_deliverable(bool in_order) {
  auto it = arrived_.begin();
  if (it == arrived_.end() || (in_order && it->first != next_deliver_)) return std::nullopt;
  std::pair<size_t, workers::Completion> out(it->first, std::move(it->second));
  arrived_.erase(it);
  return out;
}

void EpochPlan::mark_delivered(size_t batch) {
  if (delivered_[batch]) return;
  delivered_[batch] = 1;
  handed_out_[batch] = 1;
  ++delivered_count_;
  while (next_deliver_ < delivered_.size() && delivered_[next_deliver_]) ++next_deliver_;
}

void EpochPlan::drop_outstanding() {
  for (const auto& [task, batch] : with_workers_) handed_out_[batch] = 0;
  for (const auto& [batch, c] : arrived_) handed_out_[batch] = 0;
  with_workers_.clear();
  arrived_.clear();
  next_submit_ = 0;
}

}  // namespace ferry::detail
