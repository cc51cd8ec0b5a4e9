#pragma once
// The producer of an iterable dataset, in a worker process or (num_workers
// 0) the calling thread: a task {stream, batch} fills the stream's positions
// [batch x batch_size, (batch + 1) x batch_size). The streams it reads stay
// open between tasks, so reading is sequential; a task that does not follow
// on (a respawned worker re-running, a resumed run) reopens the stream and
// passes over the positions before it.
#include <map>
#include <memory>

#include "loader/detail/batch_filler.h"
#include "loader/iterable_dataset.h"
#include "workers/producer.h"

namespace ferry::detail {

class StreamProducer final : public workers::Producer {
 public:
  StreamProducer(std::shared_ptr<IterableDataset> dataset, std::shared_ptr<BatchFiller> filler, int num_workers);
  void start_worker(int worker_id) override;
  std::vector<std::byte> produce(const workers::Task& task, workers::SlotSink& sink) override;

 private:
  struct OpenStream {
    uint64_t epoch = 0;
    std::unique_ptr<SampleStream> stream;
    StreamCursor at;
  };
  OpenStream& position(uint64_t epoch, int64_t stream, int64_t start);
  void pass_over(OpenStream& s, int64_t n);

  std::shared_ptr<IterableDataset> dataset_;
  std::shared_ptr<BatchFiller> filler_;
  int num_workers_;
  int worker_id_ = -1;
  std::map<int64_t, OpenStream> open_;  // by stream
};

}  // namespace ferry::detail
