#include "loader/detail/stream_plan.h"

#include <algorithm>

#include "base/error.h"

namespace ferry::detail {

StreamPlan::StreamPlan(uint64_t epoch, int64_t streams, int num_workers, int64_t batch_size, bool drop_last,
                       const std::vector<int64_t>& delivered)
    : epoch_(epoch),
      num_workers_(num_workers),
      batch_size_(batch_size),
      drop_last_(drop_last),
      streams_(size_t(std::max<int64_t>(streams, 0))) {
  if (!delivered.empty() && delivered.size() != streams_.size())
    throw InvalidOption("ferry: load_state: the state has positions for " + std::to_string(delivered.size()) +
                        " streams, but this epoch has " + std::to_string(streams_.size()) +
                        " (a dataset that splits its data by worker needs the same num_workers to resume)");
  for (size_t s = 0; s < delivered.size(); ++s) {
    streams_[s].delivered = streams_[s].next_submit = delivered[s];
    delivered_total_ += delivered[s];
  }
}

bool StreamPlan::complete() const {
  return std::all_of(streams_.begin(), streams_.end(), [](const Stream& s) { return s.delivered >= s.end; });
}

BatchPlan::Work StreamPlan::work(int64_t batch, int64_t stream) const {
  return Work{key(batch, stream), {stream, batch}, worker_of(stream)};
}

std::optional<BatchPlan::Work> StreamPlan::next_to_submit(const std::function<bool(int)>& accepts) {
  // The lowest round first, so that no stream runs far ahead of the others.
  std::optional<size_t> best;
  for (size_t s = 0; s < streams_.size(); ++s) {
    const Stream& st = streams_[s];
    if (st.next_submit >= st.end || !accepts(worker_of(int64_t(s)))) continue;
    const size_t k = key(st.next_submit, int64_t(s));
    if (!best || k < *best) best = k;
  }
  if (!best) return std::nullopt;
  return work(batch_of(*best), stream_of(*best));
}

void StreamPlan::submitted(uint64_t task_id, const Work& w) {
  Stream& st = streams_[size_t(stream_of(w.key))];
  st.next_submit = std::max(st.next_submit, batch_of(w.key) + 1);
  with_workers_.emplace(task_id, w.key);
}

bool StreamPlan::arrived(workers::Completion c) {
  auto it = with_workers_.find(c.task_id);
  if (it == with_workers_.end()) return false;
  const size_t k = it->second;
  with_workers_.erase(it);
  if (past_end(k)) return false;
  arrived_.emplace(k, std::move(c));
  return true;
}

std::optional<size_t> StreamPlan::next_in_order() const {
  // Round by round; within a round, stream by stream. A stream already past
  // this round (resumed further) or ended is passed over.
  int64_t round = INT64_MAX;
  for (const Stream& st : streams_)
    if (st.delivered < st.end) round = std::min(round, st.delivered);
  if (round == INT64_MAX) return std::nullopt;
  for (size_t s = 0; s < streams_.size(); ++s)
    if (streams_[s].delivered == round && round < streams_[s].end) return key(round, int64_t(s));
  return std::nullopt;
}

std::optional<std::pair<size_t, workers::Completion>> StreamPlan::take_deliverable(bool in_order) {
  auto it = arrived_.begin();
  if (in_order) {
    const std::optional<size_t> next = next_in_order();
    if (!next) return std::nullopt;
    it = arrived_.find(*next);
  } else {
    // Any that arrived, but each stream's batches in their own order.
    while (it != arrived_.end() && batch_of(it->first) != streams_[size_t(stream_of(it->first))].delivered) ++it;
  }
  if (it == arrived_.end()) return std::nullopt;
  std::pair<size_t, workers::Completion> out(it->first, std::move(it->second));
  arrived_.erase(it);
  return out;
}

std::optional<BatchPlan::Work> StreamPlan::next_in_thread() const {
  const std::optional<size_t> next = next_in_order();
  if (!next) return std::nullopt;
  return work(batch_of(*next), stream_of(*next));
}

bool StreamPlan::holds_batch(size_t k, const BatchPayload& payload) {
  // A batch that ends its stream inside it is the short last one.
  const bool dropped = drop_last_ && payload.stream_end;
  if (payload.samples > 0 && !dropped) return true;
  // Ended exactly at a batch boundary, or dropped: nothing to deliver.
  Stream& st = streams_[size_t(stream_of(k))];
  st.end = std::min(st.end, batch_of(k));
  std::erase_if(arrived_, [&](const auto& a) { return past_end(a.first); });
  return false;
}

std::vector<int64_t> StreamPlan::sample_ids(size_t, const BatchPayload& payload) const { return payload.positions; }

void StreamPlan::mark_delivered(size_t k, const BatchPayload& payload) {
  Stream& st = streams_[size_t(stream_of(k))];
  st.delivered = batch_of(k) + 1;
  ++delivered_total_;
  if (payload.stream_end) {
    st.end = std::min(st.end, batch_of(k) + 1);
    std::erase_if(arrived_, [&](const auto& a) { return past_end(a.first); });
  }
}

void StreamPlan::drop_outstanding() {
  for (Stream& st : streams_) st.next_submit = st.delivered;
  with_workers_.clear();
  arrived_.clear();
}

void StreamPlan::save(LoaderState& state) const {
  state.stream_batches.clear();
  for (const Stream& st : streams_) state.stream_batches.push_back(st.delivered);
}

}  // namespace ferry::detail
