#include "loader/detail/epoch_runner.h"

#include <algorithm>

#include "base/error.h"
#include "loader/detail/batch_assembly.h"
#include "loader/detail/device_stage.h"
#include "loader/detail/epoch_plan.h"
#include "loader/detail/local_slots.h"
#include "loader/detail/stream_plan.h"
#include "loader/detail/stream_producer.h"

namespace ferry::detail {

EpochRunner::EpochRunner(DatasetRef dataset, const LoaderOptions& options, const Schema& schema)
    : dataset_(std::move(dataset)),
      options_(options),
      dataset_size_(dataset_.size()),
      filler_(std::make_shared<BatchFiller>(dataset_.map, SlotLayout(schema, options_.batch_size), options_)),
      config_(resolve_engine(options_, filler_->layout().bytes())),
      launch_(dataset_, options_, filler_->layout().schema(), dataset_size_) {
  if (dataset_.map) {
    if (dataset_size_ < 0) throw InvalidOption("ferry: dataset " + dataset_.describe() + " reports a negative size");
    sampler_ = make_default_sampler(options_);
    producer_ = std::make_shared<DatasetProducer>(filler_);
  } else {
    if (options_.sampler || options_.shuffle)
      throw InvalidOption("ferry: " + dataset_.describe() +
                          " is an iterable dataset: it decides its own order, so shuffle and sampler do not apply "
                          "(shuffle inside its streams, e.g. with a shuffle buffer)");
    producer_ = std::make_shared<StreamProducer>(dataset_.iterable, filler_, options_.num_workers);
  }
  device_ = DeviceStage::create(options_, config_, device_note_);
}

EpochRunner::~EpochRunner() {
  device_.reset();  // the copier and the registrations go before the pool
  stop_pool();
}

std::string EpochRunner::device_description() const { return device_ ? device_->describe() : device_note_; }

int64_t EpochRunner::batches_per_epoch() const {
  if (!dataset_.map && dataset_size_ < 0) return -1;  // an iterable dataset without a size hint
  const int64_t n = sampler_ ? sampler_->length(dataset_size_) : dataset_size_;
  return options_.drop_last ? n / options_.batch_size : (n + options_.batch_size - 1) / options_.batch_size;
}

std::vector<int> EpochRunner::worker_pids() const {
  std::vector<int> out;
  if (pool_)
    for (pid_t p : pool_->pids()) out.push_back(p);
  return out;
}

workers::PoolOptions EpochRunner::pool_options() {
  workers::PoolOptions po;
  po.num_workers = options_.num_workers;
  po.prefetch_factor = options_.prefetch_factor;
  po.slots_per_worker = config_.slots_per_worker;
  po.slot_bytes = config_.slot_bytes;
  po.timeout = options_.timeout;
  po.on_interrupt = options_.on_interrupt;
  po.fork_hooks = options_.fork_hooks;
  po.respawn = options_.on_worker_failure == OnWorkerFailure::kRespawn;
  po.max_respawns = options_.max_respawns;
  po.sharing =
      options_.sharing == Sharing::kFileSystem ? workers::Sharing::kFileSystem : workers::Sharing::kFileDescriptor;
  po.choose_launch = [this](workers::SpawnCommand& spawn) { return launch_.choose(spawn); };
  return po;
}

void EpochRunner::ensure_pool() {
  if (pool_ || options_.num_workers == 0) return;
  {
    trace::ScopedStage start(trace::Stage::kStartWorkers);
    pool_ = std::make_unique<workers::WorkerPool>(pool_options(), producer_);
  }
  if (device_) {
    try {
      device_->attach(pool_->arenas());
    } catch (...) {
      stop_pool();
      throw;
    }
  }
  pool_->reset_respawn_budget();
  stats_.worker_start_ns = pool_->stats().start_ns;
  ++stats_.worker_starts;
}

void EpochRunner::stop_pool() noexcept {
  if (!pool_) return;
  pool_->shutdown();
  retired_pool_stats_ += pool_->stats();
  if (device_) device_->detach();
  pool_.reset();
  if (plan_) plan_->drop_outstanding();  // what the pool had is handed out again
}

void EpochRunner::close() noexcept {
  active_ = false;
  stop_pool();
}

void EpochRunner::start_epoch(uint64_t epoch) {
  if (active_ && !options_.persistent_workers) stop_pool();  // abandon the unfinished epoch's work
  if (pool_ && pool_->broken()) stop_pool();                 // the next epoch gets a fresh one
  active_ = false;
  const LoaderState resume = resume_.value_or(LoaderState{});
  // Results of an earlier epoch still with the workers are dropped on arrival.
  if (dataset_.map) {
    const std::vector<int64_t> order = sampler_->indices(epoch, dataset_size_);
    for (int64_t i : order)
      if (i < 0 || i >= dataset_size_)
        throw InvalidOption("ferry: sampler " + sampler_->describe() + " produced index " + std::to_string(i) +
                            " outside the dataset (size " + std::to_string(dataset_size_) + ")");
    plan_ = std::make_unique<EpochPlan>(epoch, order, options_.batch_size, options_.drop_last, resume.consumed);
  } else {
    const int64_t streams = dataset_.iterable->streams(epoch, options_.num_workers);
    if (streams < 0) throw InvalidOption("ferry: " + dataset_.describe() + " reports a negative number of streams");
    plan_ = std::make_unique<StreamPlan>(epoch, streams, options_.num_workers, options_.batch_size, options_.drop_last,
                                         resume.stream_batches);
  }
  resume_.reset();
  active_ = true;
  if (pool_) pool_->reset_respawn_budget();
  if (options_.num_workers == 0 && !local_) {
    local_ = std::make_shared<LocalSlots>(config_.slot_bytes);
    producer_->start_worker(-1);
  }
}

bool EpochRunner::save_unfinished(LoaderState& state) const {
  // Still running (even with every batch delivered, until next() says it is
  // over: a resume then yields an empty rest of the epoch), or ended early.
  if (!plan_ || (!active_ && plan_->complete())) return false;
  state.epoch = plan_->epoch();
  plan_->save(state);
  return true;
}

bool EpochRunner::next(Batch& out) {
  out = Batch();
  if (!active_) return false;
  const uint64_t t0 = trace::now_ns();
  try {
    for (;;) {
      if (plan_->complete()) {
        active_ = false;
        if (!options_.persistent_workers) stop_pool();
        return false;
      }
      ensure_pool();
      Produced p;
      {
        trace::ScopedStage wait(trace::Stage::kWaitForBatch);
        p = options_.num_workers == 0 ? produce_in_thread() : receive_from_workers();
      }
      if (!plan_->holds_batch(p.key, p.payload)) continue;  // a stream ended at a batch boundary
      Batch batch = assemble_batch(filler_->layout().schema(), std::move(p.owner), p.memory, p.bytes, p.payload,
                                   plan_->batch_index(p.key), plan_->epoch(), plan_->sample_ids(p.key, p.payload));
      if (device_) batch = device_->deliver(std::move(batch));
      plan_->mark_delivered(p.key, p.payload);
      account(p.payload);
      out = std::move(batch);
      break;
    }
  } catch (...) {
    end_epoch_after_failure();
    throw;
  }
  stats_.consumer_wait_ns += trace::now_ns() - t0;
  // Main-process stage time (num_workers 0, waits) is collected here, so
  // that stats() only reads.
  stats_.stage_ns += trace::take_totals();
  return true;
}

void EpochRunner::end_epoch_after_failure() noexcept {
  active_ = false;
  if (plan_) plan_->drop_outstanding();
  // A broken pool (a worker died or is stuck, a message was lost) must go now
  // so no child outlives the error; a healthy persistent one stays.
  if (pool_ && (!options_.persistent_workers || pool_->broken())) stop_pool();
  stats_.stage_ns += trace::take_totals();
}

EpochRunner::Produced EpochRunner::produce_in_thread() {
  const std::optional<BatchPlan::Work> work = plan_->next_in_thread();
  if (!work) throw Error("ferry: internal error: an incomplete epoch with nothing to produce");
  workers::Task task;
  task.epoch = plan_->epoch();
  task.items = work->items;
  LocalSink sink(*local_);
  Produced p;
  p.key = work->key;
  try {
    p.payload = BatchPayload::decode(producer_->produce(task, sink));
  } catch (const workers::ItemFailed& e) {
    throw SampleFailed("ferry: batch " + std::to_string(plan_->batch_index(work->key)) + " of epoch " +
                           std::to_string(plan_->epoch()) +
                           " failed in the calling thread (num_workers=0): " + e.what(),
                       -1, e.item());
  }
  p.owner = sink.memory();
  p.memory = sink.memory().get();
  p.bytes = sink.size();
  return p;
}

void EpochRunner::submit_ready() {
  // Outstanding = with the workers + arrived but not delivered; bounding it
  // bounds the memory a slow batch can pin while later ones complete.
  const auto accepts = [&](int worker) { return worker < 0 ? pool_->can_submit() : pool_->can_submit_to(worker); };
  while (plan_->outstanding() < config_.outstanding_limit) {
    const std::optional<BatchPlan::Work> work = plan_->next_to_submit(accepts);
    if (!work) return;
    workers::Task t;
    t.id = next_task_id_++;
    t.epoch = plan_->epoch();
    t.items = work->items;
    t.worker = work->worker;
    plan_->submitted(t.id, *work);
    pool_->submit(std::move(t));
  }
}

EpochRunner::Produced EpochRunner::receive_from_workers() {
  for (;;) {
    submit_ready();
    if (auto d = plan_->take_deliverable(options_.in_order)) {
      auto& [key, c] = *d;
      stats_.batch_latency_ns.push_back(c.latency_ns);
      const std::string where =
          "ferry: batch " + std::to_string(plan_->batch_index(key)) + " of epoch " + std::to_string(plan_->epoch());
      if (c.kind == workers::Completion::Kind::kFailed)
        throw SampleFailed(where + " failed in worker " + std::to_string(c.worker_id) + ": " + c.message, c.worker_id,
                           c.failed_item);
      if (c.kind == workers::Completion::Kind::kLost) throw Error(where + ": " + c.message);
      Produced p;
      p.key = key;
      p.payload = BatchPayload::decode(c.payload);
      if (c.memory) {
        p.memory = c.memory->data();
        p.bytes = c.memory->size();
        p.owner = std::move(c.memory);
      }
      return p;
    }
    // Later batches have arrived and wait for this one: reordering, in NVTX.
    std::optional<trace::ScopedStage> reorder;
    if (plan_->holds_arrivals()) reorder.emplace(trace::Stage::kReorder);
    workers::Completion c = pool_->wait();
    reorder.reset();
    plan_->arrived(std::move(c));  // false for an abandoned epoch's: its memory returns as it is dropped
  }
}

void EpochRunner::account(const BatchPayload& payload) {
  ++stats_.batches;
  stats_.samples += payload.samples;
  stats_.skipped_samples += payload.skipped;
  stats_.substituted_samples += payload.substituted;
  stats_.decode_warnings += payload.warnings;
  stats_.bad_sample_messages.insert(stats_.bad_sample_messages.end(), payload.bad_samples.begin(),
                                    payload.bad_samples.end());
}

LoaderStats EpochRunner::stats() const {
  LoaderStats s = stats_;
  workers::PoolStats ps = retired_pool_stats_;
  if (pool_) ps += pool_->stats();
  s.stage_ns += ps.worker_totals;
  s.worker_busy_ns = ps.worker_busy_ns;
  s.one_off_segments = int64_t(ps.one_off_segments);
  s.worker_respawns = int64_t(ps.respawns);
  s.start_method = launch_.method_used();
  if (device_) s.pageable_batches = device_->pageable_batches();
  return s;
}

}  // namespace ferry::detail
