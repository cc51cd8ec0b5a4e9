#include "loader/detail/stream_producer.h"

#include <cstring>

#include "base/error.h"
#include "loader/bad_sample.h"
#include "workers/producer.h"

namespace ferry::detail {
namespace {

// Where passed-over samples go when a stream cannot skip by itself.
class ScratchWriter final : public SampleWriter {
 public:
  explicit ScratchWriter(const Schema& schema) : schema_(schema), fields_(schema.size()) {
    for (size_t i = 0; i < schema.size(); ++i)
      if (!schema[i].ragged) fields_[i].resize(size_t(sample_bytes(schema[i])));
  }
  void* fixed(size_t field) override { return fields_.at(field).data(); }
  void* ragged(size_t field, int64_t count) override {
    fields_.at(field).resize(size_t(count) * dtype_size(schema_.at(field).dtype));
    return fields_[field].data();
  }

 private:
  const Schema& schema_;
  std::vector<std::vector<std::byte>> fields_;
};

}  // namespace

StreamProducer::StreamProducer(std::shared_ptr<IterableDataset> dataset, std::shared_ptr<BatchFiller> filler,
                               int num_workers)
    : dataset_(std::move(dataset)), filler_(std::move(filler)), num_workers_(num_workers) {}

void StreamProducer::start_worker(int worker_id) {
  worker_id_ = worker_id;
  dataset_->open_in_worker(worker_id);
  filler_->start(worker_id);
}

void StreamProducer::pass_over(OpenStream& s, int64_t n) {
  if (n <= 0) return;
  const int64_t skipped = s.stream->skip(n);
  if (skipped >= 0) {
    s.at.next_sample += skipped;
    return;
  }
  ScratchWriter scratch(filler_->layout().schema());
  for (int64_t i = 0; i < n; ++i) {
    SampleContext ctx;
    ctx.index = s.at.next_sample;
    ctx.epoch = s.epoch;
    ctx.worker_id = worker_id_;
    ctx.seed = filler_->seed();
    ctx.rng = stream_sample_rng(ctx.seed, s.epoch, s.at.stream, s.at.next_sample);
    try {
      if (!s.stream->next(ctx, scratch)) return;
    } catch (const BadSample&) {
      // passed over all the same
    }
    ++s.at.next_sample;
  }
}

StreamProducer::OpenStream& StreamProducer::position(uint64_t epoch, int64_t stream, int64_t start) {
  OpenStream& s = open_[stream];
  if (s.stream && s.epoch == epoch && s.at.next_sample <= start) {
    pass_over(s, start - s.at.next_sample);  // normally nothing: the task follows on
    return s;
  }
  StreamContext ctx;
  ctx.stream = stream;
  ctx.epoch = epoch;
  ctx.seed = filler_->seed();
  ctx.worker_id = worker_id_;
  ctx.num_workers = num_workers_;
  try {
    s.stream = dataset_->open(ctx);
  } catch (const std::exception& e) {
    // As a failed sample at the stream's first position wanted, so that it
    // ends the epoch the same way in the calling thread as in a worker.
    open_.erase(stream);
    throw workers::ItemFailed(
        start, bad_sample_message(start, "stream " + std::to_string(stream) + ": opening it failed: " + e.what()));
  }
  if (!s.stream)
    throw Error("ferry: " + dataset_->describe() + " opened no stream for stream " + std::to_string(stream));
  s.epoch = epoch;
  s.at = StreamCursor{stream, 0};
  pass_over(s, start);
  return s;
}

std::vector<std::byte> StreamProducer::produce(const workers::Task& task, workers::SlotSink& sink) {
  if (task.items.size() != 2) throw Error("ferry: internal error: a stream task is {stream, batch}");
  const int64_t stream = task.items[0], batch = task.items[1];
  // Streams of an earlier epoch will not be read again.
  std::erase_if(open_, [&](const auto& s) { return s.second.epoch != task.epoch; });
  const int64_t batch_size = filler_->layout().batch_size();
  OpenStream& s = position(task.epoch, stream, batch * batch_size);
  BatchPayload payload;
  if (s.at.next_sample < batch * batch_size) {
    payload.stream_end = true;  // it ended before this batch's first position
    payload.fields.resize(filler_->layout().schema().size());
  } else {
    payload = filler_->fill_from(*s.stream, s.at, (batch + 1) * batch_size, task.epoch, sink);
  }
  if (payload.stream_end) open_.erase(stream);
  return payload.encode();
}

}  // namespace ferry::detail
