#include "loader/detail/epoch_runner.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "base/error.h"
#include "loader/detail/device_stage.h"
#include "loader/detail/spawn_payload.h"

namespace ferry::detail {

// Slot memory for num_workers 0: a few reusable page-aligned buffers, so the
// calling thread never allocates per batch either.
class LocalSlots : public std::enable_shared_from_this<LocalSlots> {
 public:
  explicit LocalSlots(size_t slot_bytes) : slot_bytes_(slot_bytes) {}
  ~LocalSlots() {
    for (void* p : free_) std::free(p);
  }
  std::shared_ptr<std::byte> take(size_t bytes) {
    void* p = nullptr;
    if (bytes <= slot_bytes_) {
      std::lock_guard lock(mutex_);
      if (!free_.empty()) {
        p = free_.back();
        free_.pop_back();
      }
    }
    const size_t size = bytes <= slot_bytes_ ? slot_bytes_ : align_up(bytes, 4096);
    if (!p) p = std::aligned_alloc(4096, size);
    if (!p) throw std::bad_alloc();
    auto self = shared_from_this();
    const bool reusable = bytes <= slot_bytes_;
    return std::shared_ptr<std::byte>(static_cast<std::byte*>(p), [self, reusable](std::byte* q) {
      if (!reusable) return std::free(q);
      std::lock_guard lock(self->mutex_);
      self->free_.push_back(q);
    });
  }
  size_t slot_bytes() const { return slot_bytes_; }

 private:
  size_t slot_bytes_;
  std::mutex mutex_;
  std::vector<void*> free_;
};

namespace {

class LocalSink final : public workers::SlotSink {
 public:
  explicit LocalSink(LocalSlots& slots) : slots_(slots) {}
  std::span<std::byte> allocate(size_t bytes) override {
    memory_ = slots_.take(bytes);
    size_ = std::max(bytes, slots_.slot_bytes());
    return {memory_.get(), size_};
  }
  size_t slot_bytes() const override { return slots_.slot_bytes(); }
  std::shared_ptr<std::byte> memory_;
  size_t size_ = 0;

 private:
  LocalSlots& slots_;
};

std::vector<int64_t> row_major_strides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (size_t i = shape.size(); i > 1; --i) strides[i - 2] = strides[i - 1] * shape[i - 1];
  return strides;
}

}  // namespace

EpochRunner::EpochRunner(std::shared_ptr<Dataset> dataset, const LoaderOptions& options, const Schema& schema)
    : dataset_(std::move(dataset)), options_(options) {
  dataset_size_ = dataset_->size();
  if (dataset_size_ < 0) throw InvalidOption("ferry: dataset reports a negative size");
  sampler_ = options_.sampler;
  if (!sampler_) {
    if (options_.shuffle)
      sampler_ = std::make_shared<RandomSampler>(options_.seed);
    else
      sampler_ = std::make_shared<SequentialSampler>();
  }
  filler_ = std::make_shared<BatchFiller>(dataset_, SlotLayout(schema, options_.batch_size), options_);
  device_ = DeviceStage::create(options_, slot_bytes(), device_note_);
}

EpochRunner::~EpochRunner() {
  device_.reset();  // the copier and the registrations go before the pool
  stop_pool();
}

std::string EpochRunner::device_description() const { return device_ ? device_->describe() : device_note_; }

int64_t EpochRunner::batches_per_epoch() const {
  const int64_t n = sampler_->length(dataset_size_);
  return options_.drop_last ? n / options_.batch_size : (n + options_.batch_size - 1) / options_.batch_size;
}

size_t EpochRunner::shared_memory_bytes() const {
  const int slots = options_.slots_per_worker > 0 ? options_.slots_per_worker : options_.prefetch_factor + 1;
  return slot_bytes() * size_t(slots) * size_t(options_.num_workers);
}

std::vector<int> EpochRunner::worker_pids() const {
  std::vector<int> out;
  if (pool_)
    for (pid_t p : pool_->pids()) out.push_back(p);
  return out;
}

void EpochRunner::ensure_pool() {
  if (pool_ || options_.num_workers == 0) return;
  workers::PoolOptions po;
  po.num_workers = options_.num_workers;
  po.prefetch_factor = options_.prefetch_factor;
  po.slots_per_worker = options_.slots_per_worker > 0 ? options_.slots_per_worker : options_.prefetch_factor + 1;
  po.slot_bytes = slot_bytes();
  po.timeout = options_.timeout;
  po.on_interrupt = options_.on_interrupt;
  po.fork_hooks = options_.fork_hooks;
  po.respawn = options_.on_worker_failure == OnWorkerFailure::kRespawn;
  choose_launch(po);
  po.sharing =
      options_.sharing == Sharing::kFileSystem ? workers::Sharing::kFileSystem : workers::Sharing::kFileDescriptor;
  po.max_respawns = options_.max_respawns;
  pool_ = std::make_unique<workers::WorkerPool>(po, std::make_shared<DatasetProducer>(filler_));
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

void EpochRunner::choose_launch(workers::PoolOptions& po) {
  // fork copies only the calling thread: locks other threads hold (malloc,
  // CUDA, a logging library) stay locked forever in the child.
  const int threads = count_threads();
  const DatasetSpec spec = dataset_->spec();
  StartMethod method = options_.start_method;
  if (method == StartMethod::kAuto) {
    method = threads > 1 && !spec.kind.empty() ? StartMethod::kSpawn : StartMethod::kFork;
    if (threads > 1 && spec.kind.empty() && !warned_unsafe_fork_) {
      warned_unsafe_fork_ = true;
      std::fprintf(stderr,
                   "ferry: warning: forking workers from a process with %d threads, because dataset %s cannot be "
                   "rebuilt in a spawned worker (it has no spec()). Create the loader before starting threads, or "
                   "make the dataset spawnable.\n",
                   threads, dataset_->describe().c_str());
    }
  } else if (method == StartMethod::kFork && threads > 1) {
    throw InvalidOption("ferry: start_method=fork is unsafe here: this process runs " + std::to_string(threads) +
                        " threads, and a forked child keeps only one (locks held by the others stay locked). "
                        "Use start_method=spawn (or auto), or create the loader before starting threads.");
  }
  if (method == StartMethod::kSpawn) {
    if (spec.kind.empty())
      throw InvalidOption("ferry: start_method=spawn needs a dataset that can be rebuilt in a fresh process, but " +
                          dataset_->describe() +
                          " has no spec(). Use open_image_dataset/open_raw_dataset, or implement Dataset::spec() "
                          "and register its kind (dataset_registry.h).");
    if (options_.worker_init)
      throw InvalidOption(
          "ferry: worker_init is a C++ callback of this process and cannot run in a spawned "
          "worker; do that set-up in the dataset's open_in_worker() instead.");
    po.launch = workers::Launch::kSpawn;
    po.spawn_executable = find_worker_executable(options_.worker_executable);
    po.spawn_args = options_.worker_args;
    po.spawn_payload = encode_spawn_payload(spec, filler_->layout().schema(), options_, dataset_size_);
  }
  stats_.start_method = method == StartMethod::kSpawn ? "spawn" : "fork";
}

void EpochRunner::stop_pool() noexcept {
  if (!pool_) return;
  pool_->shutdown();
  const workers::PoolStats s = pool_->stats();
  retired_pool_stats_.worker_totals += s.worker_totals;
  retired_pool_stats_.worker_busy_ns += s.worker_busy_ns;
  retired_pool_stats_.one_off_segments += s.one_off_segments;
  retired_pool_stats_.respawns += s.respawns;
  if (device_) device_->detach();
  pool_.reset();
  task_batch_.clear();
}

void EpochRunner::start_epoch(uint64_t epoch) {
  if (active_ && !options_.persistent_workers) stop_pool();  // abandon the unfinished epoch's work
  epoch_ = epoch;
  active_ = true;
  batches_.clear();
  const std::vector<int64_t> order = sampler_->indices(epoch, dataset_size_);
  const auto bs = size_t(options_.batch_size);
  for (size_t at = 0; at < order.size(); at += bs) {
    const size_t end = std::min(order.size(), at + bs);
    if (end - at < bs && options_.drop_last) break;
    batches_.emplace_back(order.begin() + ptrdiff_t(at), order.begin() + ptrdiff_t(end));
  }
  for (const auto& b : batches_)
    for (int64_t i : b)
      if (i < 0 || i >= dataset_size_)
        throw InvalidOption("ferry: sampler " + sampler_->describe() + " produced index " + std::to_string(i) +
                            " outside the dataset (size " + std::to_string(dataset_size_) + ")");
  next_submit_ = next_yield_ = 0;
  delivered_.assign(batches_.size(), 0);
  delivered_count_ = 0;
  for (int64_t b : resume_done_)
    if (b >= 0 && size_t(b) < batches_.size() && !delivered_[size_t(b)]) mark_delivered(size_t(b));
  resume_done_.clear();
  task_batch_.clear();  // results of an earlier epoch still in flight are dropped on arrival
  done_.clear();
  if (pool_) pool_->reset_respawn_budget();
  if (options_.num_workers == 0 && !local_started_) {
    local_ = std::make_shared<LocalSlots>(slot_bytes());
    filler_->start(-1);
    local_started_ = true;
  }
}

bool EpochRunner::next(Batch& out) {
  out = Batch();
  if (!active_) return false;
  if (delivered_count_ >= batches_.size()) {
    active_ = false;
    if (!options_.persistent_workers) stop_pool();
    return false;
  }
  const uint64_t t0 = trace::now_ns();
  bool got;
  {
    trace::ScopedStage wait(trace::Stage::kWaitForBatch);
    got = options_.num_workers == 0 ? next_in_process(out) : next_from_workers(out);
  }
  if (got && device_) out = device_->deliver(std::move(out));
  stats_.consumer_wait_ns += trace::now_ns() - t0;
  return got;
}

bool EpochRunner::next_in_process(Batch& out) {
  const size_t b = next_yield_;
  mark_delivered(b);
  LocalSink sink(*local_);
  try {
    const BatchPayload payload = filler_->fill(epoch_, batches_[b], sink);
    account(payload);
    out = assemble(sink.memory_, sink.memory_.get(), sink.size_, payload, b);
    return true;
  } catch (const workers::ItemFailed& e) {
    active_ = false;
    throw SampleFailed("ferry: batch " + std::to_string(b) + " of epoch " + std::to_string(epoch_) +
                           " failed in the calling thread (num_workers=0): " + e.what(),
                       -1, e.item());
  }
}

void EpochRunner::submit_ready() {
  // Outstanding = in flight + arrived but not yielded; bounding it bounds the
  // memory a slow batch can pin while later ones complete.
  const size_t limit = size_t(options_.num_workers) * size_t(options_.prefetch_factor);
  for (;;) {
    while (next_submit_ < batches_.size() && delivered_[next_submit_]) ++next_submit_;
    if (next_submit_ >= batches_.size() || !pool_->can_submit() || task_batch_.size() + done_.size() >= limit) break;
    workers::Task t;
    t.id = next_task_id_++;
    t.epoch = epoch_;
    t.items = batches_[next_submit_];
    task_batch_.emplace(t.id, next_submit_);
    pool_->submit(std::move(t));
    ++next_submit_;
  }
}

void EpochRunner::mark_delivered(size_t batch) {
  delivered_[batch] = 1;
  ++delivered_count_;
  while (next_yield_ < delivered_.size() && delivered_[next_yield_]) ++next_yield_;
}

std::vector<int64_t> EpochRunner::delivered_batches() const {
  std::vector<int64_t> out;
  if (!active_) return out;
  for (size_t b = 0; b < delivered_.size(); ++b)
    if (delivered_[b]) out.push_back(int64_t(b));
  return out;
}

bool EpochRunner::next_from_workers(Batch& out) {
  try {
    ensure_pool();
    for (;;) {
      submit_ready();
      auto it = done_.begin();
      const bool deliverable = it != done_.end() && (!options_.in_order || it->first == next_yield_);
      if (deliverable) {
        workers::Completion c = std::move(it->second);
        const size_t b = it->first;
        done_.erase(it);
        mark_delivered(b);
        stats_.batch_latency_ns.push_back(c.latency_ns);
        if (c.kind == workers::Completion::Kind::kFailed) {
          active_ = false;
          throw SampleFailed("ferry: batch " + std::to_string(b) + " of epoch " + std::to_string(epoch_) +
                                 " failed in worker " + std::to_string(c.worker_id) + ": " + c.message,
                             c.worker_id, c.failed_item);
        }
        const BatchPayload payload = BatchPayload::decode(c.payload);
        account(payload);
        auto* mem = c.memory.get();
        out = assemble(std::move(c.memory), mem->data(), mem->size(), payload, b);
        return true;
      }
      workers::Completion c = pool_->wait();
      auto owner = task_batch_.find(c.task_id);
      if (owner == task_batch_.end()) continue;  // from an abandoned epoch: its memory returns now
      done_.emplace(owner->second, std::move(c));
      task_batch_.erase(owner);
    }
  } catch (const SampleFailed&) {
    throw;
  } catch (const WorkerCrashed&) {
    fail_epoch_and_rethrow();
  } catch (const Timeout&) {
    fail_epoch_and_rethrow();
  }
}

void EpochRunner::fail_epoch_and_rethrow() {
  // The pool is unusable (a worker died or is stuck): stop it now so no
  // child outlives the error; the next epoch starts a fresh one.
  active_ = false;
  stop_pool();
  done_.clear();
  throw;
}

void EpochRunner::account(const BatchPayload& payload) {
  ++stats_.batches;
  stats_.samples += payload.samples;
  stats_.skipped_samples += payload.skipped;
  stats_.substituted_samples += payload.substituted;
  stats_.decode_warnings += payload.warnings;
  for (const auto& m : payload.bad_samples)
    if (stats_.bad_sample_messages.size() < 16) stats_.bad_sample_messages.push_back(m);
}

Batch EpochRunner::assemble(std::shared_ptr<void> owner, const std::byte* memory, size_t bytes,
                            const BatchPayload& payload, size_t batch_index) {
  const Schema& schema = filler_->layout().schema();
  if (payload.fields.size() != schema.size()) throw Error("ferry: internal error: batch layout/schema mismatch");
  std::vector<BatchField> fields;
  fields.reserve(schema.size());
  auto* base = const_cast<std::byte*>(memory);
  for (size_t i = 0; i < schema.size(); ++i) {
    const FieldSpec& f = schema[i];
    BatchField bf;
    bf.name = f.name;
    bf.ragged = f.ragged;
    bf.values.data = base + payload.fields[i].offset;
    bf.values.dtype = f.dtype;
    if (f.ragged) {
      bf.values.shape = {payload.fields[i].ragged_total};
      bf.offsets.data = base + payload.fields[i].offsets_offset;
      bf.offsets.dtype = DType::kInt64;
      bf.offsets.shape = {payload.samples + 1};
      bf.offsets.strides = {1};
    } else {
      bf.values.shape.push_back(payload.samples);
      bf.values.shape.insert(bf.values.shape.end(), f.shape.begin(), f.shape.end());
    }
    bf.values.strides = row_major_strides(bf.values.shape);
    fields.push_back(std::move(bf));
  }
  return Batch(std::move(owner), memory, bytes, payload.samples, int64_t(batch_index), epoch_, batches_[batch_index],
               std::move(fields));
}

LoaderStats EpochRunner::stats() const {
  LoaderStats s = stats_;
  workers::PoolStats ps = retired_pool_stats_;
  if (pool_) {
    const workers::PoolStats cur = pool_->stats();
    ps.worker_totals += cur.worker_totals;
    ps.worker_busy_ns += cur.worker_busy_ns;
    ps.one_off_segments += cur.one_off_segments;
    ps.respawns += cur.respawns;
  }
  // Main-process stage time (num_workers 0, waits) is added once and kept.
  stats_.stage_ns += trace::take_totals();
  s.stage_ns = stats_.stage_ns;
  s.stage_ns += ps.worker_totals;
  s.worker_busy_ns = ps.worker_busy_ns;
  s.one_off_segments = int64_t(ps.one_off_segments);
  s.worker_respawns = int64_t(ps.respawns);
  if (device_) s.pageable_batches = device_->pageable_batches();
  return s;
}

}  // namespace ferry::detail
