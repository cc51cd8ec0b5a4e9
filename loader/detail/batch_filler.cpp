#include "loader/detail/batch_filler.h"

#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <thread>

#include "base/error.h"
#include "loader/bad_sample.h"
#include "loader/datasets/detail/parallel.h"
#include "trace/trace.h"

namespace ferry::detail {

uint64_t worker_seed(uint64_t seed, int worker_id) {
  return mix_seed(mix_seed(seed, 0x776f726b6572ull), static_cast<uint64_t>(worker_id));
}

namespace {

// How far kSkip looks for a good replacement before failing the batch.
constexpr int64_t kMaxSkipAttempts = 64;

// Names a helper thread of a batch once ("ferry-w0-t1": worker 0's thread
// 1), so ps, gdb and Nsight tell them apart; the filling process's own
// thread keeps its name.
void name_helper_thread(int worker_id, int thread_index) {
  thread_local bool named = false;
  if (named) return;
  named = true;
  const std::string process = worker_id >= 0 ? "ferry-w" + std::to_string(worker_id) : "ferry";
  trace::name_this_thread(process + "-t" + std::to_string(thread_index));
}

}  // namespace

// One sample's place in the slot being filled.
class SlotSampleWriter final : public SampleWriter {
 public:
  SlotSampleWriter(const SlotLayout& layout, std::byte* base, size_t position,
                   std::vector<std::vector<std::vector<std::byte>>>& overflow,
                   std::vector<std::vector<int64_t>>& lengths)
      : layout_(layout), base_(base), position_(position), overflow_(overflow), lengths_(lengths) {}

  void* fixed(size_t field) override {
    const FieldSpec& f = spec(field, false);
    return base_ + layout_.fields()[field].offset + position_ * size_t(sample_bytes(f));
  }

  void* ragged(size_t field, int64_t count) override {
    const FieldSpec& f = spec(field, true);
    if (count < 0) throw std::invalid_argument("ferry: ragged(" + f.name + ") with a negative count");
    const FieldPlacement& p = layout_.fields()[field];
    lengths_[field][position_] = count;
    const size_t elem = dtype_size(f.dtype);
    auto& spill = overflow_[field][position_];
    if (count <= p.ragged_capacity) {
      spill.clear();
      return base_ + p.offset + position_ * size_t(p.ragged_capacity) * elem;
    }
    spill.resize(size_t(count) * elem);
    return spill.data();
  }

  void zero_all() {
    for (size_t i = 0; i < layout_.schema().size(); ++i) {
      const FieldSpec& f = layout_.schema()[i];
      if (f.ragged) {
        lengths_[i][position_] = 0;
        overflow_[i][position_].clear();
      } else {
        std::memset(fixed(i), 0, size_t(sample_bytes(f)));
      }
    }
  }

 private:
  const FieldSpec& spec(size_t field, bool ragged) const {
    if (field >= layout_.schema().size())
      throw std::out_of_range("ferry: field " + std::to_string(field) + " is not in the schema");
    const FieldSpec& f = layout_.schema()[field];
    if (f.ragged != ragged)
      throw std::logic_error("ferry: field '" + f.name + "' is " +
                             (f.ragged ? "ragged: use ragged()" : "fixed: use fixed()"));
    return f;
  }

  const SlotLayout& layout_;
  std::byte* base_;
  size_t position_;
  std::vector<std::vector<std::vector<std::byte>>>& overflow_;
  std::vector<std::vector<int64_t>>& lengths_;
};

namespace {

class ItemInFlight {
 public:
  ItemInFlight(workers::SlotSink& sink, int64_t item) : sink_(sink), ticket_(sink.item_started(item)) {}
  ~ItemInFlight() { sink_.item_finished(ticket_); }
  ItemInFlight(const ItemInFlight&) = delete;
  ItemInFlight& operator=(const ItemInFlight&) = delete;

 private:
  workers::SlotSink& sink_;
  int ticket_;
};

}  // namespace

struct BatchFiller::SampleOutcome {
  bool failed = false;
  std::string message;
  int64_t failed_index = -1;
  int64_t skipped = 0;
  int64_t substituted = 0;
  int64_t warnings = 0;
  std::vector<std::string> bad;
};

BatchFiller::BatchFiller(std::shared_ptr<Dataset> dataset, SlotLayout layout, const LoaderOptions& options)
    : dataset_(std::move(dataset)),
      layout_(std::move(layout)),
      seed_(options.seed),
      on_bad_sample_(options.on_bad_sample),
      threads_(options.threads_per_worker),
      worker_init_(options.worker_init) {}

BatchFiller::~BatchFiller() = default;

void BatchFiller::start(int worker_id) {
  worker_id_ = worker_id;
  if (dataset_) dataset_->open_in_worker(worker_id);
  if (worker_init_) worker_init_(worker_id, worker_seed(seed_, worker_id));
  // Created here, after fork: TBB's threads must belong to this process.
  if (threads_ > 1 && !arena_) arena_ = std::make_unique<tbb::task_arena>(threads_);
}

void BatchFiller::fill_sample(uint64_t epoch, int64_t index, SlotSampleWriter& writer, workers::SlotSink& sink,
                              SampleOutcome& outcome) {
  const int64_t n = dataset_->size();
  int64_t candidate = index;
  for (int64_t attempt = 0;; ++attempt) {
    // Named in shared memory while it runs: if it kills the process, the
    // main side blames this sample (the replacement, when skipping).
    const ItemInFlight in_flight(sink, candidate);
    SampleContext ctx;
    ctx.index = candidate;
    ctx.epoch = epoch;
    ctx.seed = seed_;
    ctx.worker_id = worker_id_;
    ctx.rng = Rng::for_sample(seed_, epoch, static_cast<uint64_t>(candidate));
    try {
      dataset_->get(ctx, writer);
      outcome.warnings += ctx.warnings;
      return;
    } catch (const BadSample& e) {
      outcome.warnings += ctx.warnings;
      const std::string what = bad_sample_message(candidate, e.what());
      // Only the sample asked for is this position's bad sample. A bad
      // replacement is reported and counted when the sampler reaches it, so
      // each bad file counts once per epoch however often it is tried.
      const bool asked_for = attempt == 0;
      if (asked_for) outcome.bad.push_back(what);
      if (on_bad_sample_ == OnBadSample::kSubstitute) {
        writer.zero_all();
        ++outcome.substituted;
        return;
      }
      if (on_bad_sample_ == OnBadSample::kError || attempt + 1 >= std::min(kMaxSkipAttempts, n)) {
        outcome.failed = true;
        outcome.failed_index = candidate;
        outcome.message =
            on_bad_sample_ == OnBadSample::kError
                ? what + " (on_bad_sample=error; use skip or substitute to continue past bad files)"
                : what + " (on_bad_sample=skip found no good sample within " + std::to_string(attempt + 1) + " tries)";
        return;
      }
      if (asked_for) ++outcome.skipped;
      candidate = (candidate + 1) % n;  // deterministic: the next sample in dataset order
    } catch (const std::exception& e) {
      outcome.failed = true;
      outcome.failed_index = candidate;
      outcome.message = bad_sample_message(candidate, e.what());
      return;
    }
  }
}

BatchPayload BatchFiller::fill(uint64_t epoch, std::span<const int64_t> indices, workers::SlotSink& sink) {
  if (int64_t(indices.size()) > layout_.batch_size()) throw std::logic_error("ferry: task larger than the batch size");
  return fill_with(indices.size(), sink, /*parallel=*/true,
                   [&](size_t pos, SlotSampleWriter& writer, SampleOutcome& outcome) {
                     fill_sample(epoch, indices[pos], writer, sink, outcome);
                     return true;
                   });
}

BatchPayload BatchFiller::fill_from(SampleStream& stream, StreamCursor& at, int64_t end, uint64_t epoch,
                                    workers::SlotSink& sink) {
  // Positions [at, end) of the stream: a bad sample is dropped (kSkip: the
  // batch is shorter) or zeroed (kSubstitute), so a batch always covers the
  // same positions and a resumed reader finds them again.
  bool stream_ended = false;
  std::vector<int64_t> positions;
  auto produce = [&](size_t, SlotSampleWriter& writer, SampleOutcome& outcome) {
    while (at.next_sample < end) {
      const int64_t position = at.next_sample;
      SampleContext ctx;
      ctx.index = position;
      ctx.epoch = epoch;
      ctx.seed = seed_;
      ctx.worker_id = worker_id_;
      ctx.rng = stream_sample_rng(seed_, epoch, at.stream, position);
      const ItemInFlight in_flight(sink, position);
      // bad_sample.h's layout, with the stream: "sample <position>: stream <s>: ...".
      const std::string where = "stream " + std::to_string(at.stream);
      try {
        const bool got = stream.next(ctx, writer);
        outcome.warnings += ctx.warnings;
        if (!got) {
          stream_ended = true;
          return false;
        }
        ++at.next_sample;
        positions.push_back(position);
        return true;
      } catch (const BadSample& e) {
        outcome.warnings += ctx.warnings;
        ++at.next_sample;
        const std::string what = bad_sample_message(position, where + ": " + e.what());
        outcome.bad.push_back(what);
        if (on_bad_sample_ == OnBadSample::kSubstitute) {
          writer.zero_all();
          ++outcome.substituted;
          positions.push_back(position);
          return true;
        }
        if (on_bad_sample_ == OnBadSample::kError) {
          outcome.failed = true;
          outcome.failed_index = position;
          outcome.message = what + " (on_bad_sample=error; use skip or substitute to continue past bad files)";
          return false;
        }
        ++outcome.skipped;  // dropped from this batch
      } catch (const std::exception& e) {
        outcome.failed = true;
        outcome.failed_index = position;
        outcome.message = bad_sample_message(position, where + ": " + e.what());
        return false;
      }
    }
    return false;  // the batch's positions are used up
  };
  BatchPayload payload = fill_with(size_t(layout_.batch_size()), sink, /*parallel=*/false, produce);
  payload.stream_end = stream_ended;
  payload.positions = std::move(positions);
  return payload;
}

BatchPayload BatchFiller::fill_with(size_t capacity, workers::SlotSink& sink, bool parallel,
                                    const std::function<bool(size_t, SlotSampleWriter&, SampleOutcome&)>& produce) {
  const Schema& schema = layout_.schema();
  std::span<std::byte> memory = sink.allocate(layout_.bytes());
  std::byte* base = memory.data();

  // Ragged bookkeeping; empty vectors for fixed fields cost nothing.
  std::vector<std::vector<std::vector<std::byte>>> overflow(schema.size());
  std::vector<std::vector<int64_t>> lengths(schema.size());
  for (size_t i = 0; i < schema.size(); ++i) {
    if (!schema[i].ragged) continue;
    overflow[i].resize(capacity);
    lengths[i].assign(capacity, 0);
  }

  std::vector<SampleOutcome> outcomes(capacity);
  size_t count = capacity;
  auto run = [&](size_t pos) {
    SlotSampleWriter writer(layout_, base, pos, overflow, lengths);
    return produce(pos, writer, outcomes[pos]);
  };
  if (parallel && arena_ && capacity > 1) {
#if defined(__SANITIZE_THREAD__)
    // The system's libtbb is not instrumented, so ThreadSanitizer cannot see
    // its synchronization; plain threads keep the parallel path checkable.
    const std::thread::id caller = std::this_thread::get_id();
    std::atomic<int> next_helper{1};
    detail::parallel_for_index(capacity, threads_, [&](size_t pos) {
      if (std::this_thread::get_id() != caller) name_helper_thread(worker_id_, next_helper.fetch_add(1));
      run(pos);
    });
#else
    arena_->execute([&] {
      tbb::parallel_for(size_t(0), capacity, [&](size_t pos) {
        // Slot 0 is the thread that entered the arena: the filling process's own.
        if (const int slot = tbb::this_task_arena::current_thread_index(); slot > 0)
          name_helper_thread(worker_id_, slot);
        run(pos);
      });
    });
#endif
  } else {
    // In order; a sequential source may end early, and the batch is shorter.
    for (size_t pos = 0; pos < capacity; ++pos) {
      if (!run(pos)) {
        count = outcomes[pos].failed ? pos + 1 : pos;
        break;
      }
    }
  }

  BatchPayload payload;
  payload.samples = int64_t(count);
  for (size_t pos = 0; pos < count; ++pos) {
    const SampleOutcome& o = outcomes[pos];
    // The first failure by position, so the error does not depend on timing.
    if (o.failed) throw workers::ItemFailed(o.failed_index, o.message);
    payload.skipped += o.skipped;
    payload.substituted += o.substituted;
    payload.warnings += o.warnings;
    // Every one travels with its batch (a channel message has no size limit).
    payload.bad_samples.insert(payload.bad_samples.end(), o.bad.begin(), o.bad.end());
  }

  // Ragged fields: CSR offsets, then values packed in sample order.
  payload.fields.resize(schema.size());
  std::vector<std::vector<int64_t>> offsets(schema.size());
  for (size_t i = 0; i < schema.size(); ++i) {
    const FieldPlacement& p = layout_.fields()[i];
    payload.fields[i].offset = p.offset;
    if (!schema[i].ragged) continue;
    auto& off = offsets[i];
    off.assign(count + 1, 0);
    for (size_t s = 0; s < count; ++s) off[s + 1] = off[s] + lengths[i][s];
    payload.fields[i].ragged_total = off[count];
    payload.fields[i].offsets_offset = p.offsets_offset;
  }

  bool spills = false;
  size_t extra = 0;
  for (size_t i = 0; i < schema.size(); ++i) {
    if (!schema[i].ragged) continue;
    const size_t values_bytes = size_t(offsets[i][count]) * dtype_size(schema[i].dtype);
    if (values_bytes > layout_.fields()[i].capacity) {
      spills = true;
      extra += align_up(values_bytes, kFieldAlignment) + align_up((count + 1) * sizeof(int64_t), kFieldAlignment);
    }
  }

  std::byte* out = base;
  std::vector<std::byte> staged;  // the slot's bytes while the batch moves; outlives the copy below
  if (spills) {
    // Larger than a slot: move the whole batch to a one-off segment. Fixed
    // fields keep their offsets; ragged fields that outgrew their region go
    // past the end of the regular layout.
    staged.assign(base, base + layout_.bytes());
    std::span<std::byte> bigger = sink.allocate(layout_.bytes() + extra);
    std::memcpy(bigger.data(), staged.data(), staged.size());
    out = bigger.data();
    base = staged.data();  // ragged sources below still read the old bytes
    size_t tail = layout_.bytes();
    for (size_t i = 0; i < schema.size(); ++i) {
      if (!schema[i].ragged) continue;
      const size_t values_bytes = size_t(offsets[i][count]) * dtype_size(schema[i].dtype);
      if (values_bytes > layout_.fields()[i].capacity) {
        payload.fields[i].offset = tail;
        tail = align_up(tail + values_bytes, kFieldAlignment);
        payload.fields[i].offsets_offset = tail;
        tail = align_up(tail + (count + 1) * sizeof(int64_t), kFieldAlignment);
      }
    }
  }

  for (size_t i = 0; i < schema.size(); ++i) {
    if (!schema[i].ragged) continue;
    const FieldPlacement& p = layout_.fields()[i];
    const size_t elem = dtype_size(schema[i].dtype);
    const auto& off = offsets[i];
    std::byte* dst = out + payload.fields[i].offset;
    // In order, each destination starts at or before its source (every
    // in-slot sample is within capacity), so a forward memmove is safe
    // unless an earlier sample spilled; then pack through a copy.
    bool any_spill = false;
    for (size_t s = 0; s < count; ++s) any_spill |= !overflow[i][s].empty();
    std::vector<std::byte> packed;
    if (any_spill || spills) packed.resize(size_t(off[count]) * elem);
    for (size_t s = 0; s < count; ++s) {
      const size_t n = size_t(lengths[i][s]) * elem;
      const std::byte* src =
          overflow[i][s].empty() ? base + p.offset + s * size_t(p.ragged_capacity) * elem : overflow[i][s].data();
      if (n == 0) continue;
      if (packed.empty())
        std::memmove(dst + size_t(off[s]) * elem, src, n);
      else
        std::memcpy(packed.data() + size_t(off[s]) * elem, src, n);
    }
    if (!packed.empty()) std::memcpy(dst, packed.data(), packed.size());
    std::memcpy(out + payload.fields[i].offsets_offset, off.data(), off.size() * sizeof(int64_t));
  }
  return payload;
}

}  // namespace ferry::detail
