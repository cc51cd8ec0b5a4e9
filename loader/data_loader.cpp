#include "loader/data_loader.h"

#include <sstream>

#include "base/error.h"
#include "loader/detail/dataset_ref.h"
#include "loader/detail/epoch_runner.h"
#include "workers/shared_segment.h"

namespace ferry {

DataLoader::DataLoader(std::shared_ptr<Dataset> dataset, LoaderOptions options)
    : dataset_(std::move(dataset)), options_(std::move(options)) {
  if (!dataset_) throw InvalidOption("ferry: DataLoader needs a dataset, got null");
  build();
}

DataLoader::DataLoader(std::shared_ptr<IterableDataset> dataset, LoaderOptions options)
    : iterable_(std::move(dataset)), options_(std::move(options)) {
  if (!iterable_) throw InvalidOption("ferry: DataLoader needs a dataset, got null");
  build();
}

void DataLoader::build() {
  options_.validate();
  const detail::DatasetRef ref{dataset_, iterable_};
  schema_ = ref.schema();
  if (schema_.empty()) throw InvalidOption("ferry: dataset " + ref.describe() + " has an empty schema");
  runner_ = std::make_unique<detail::EpochRunner>(ref, options_, schema_);
}

DataLoader::~DataLoader() = default;

int64_t DataLoader::size() const { return runner_->batches_per_epoch(); }
size_t DataLoader::slot_bytes() const { return runner_->slot_bytes(); }
size_t DataLoader::shared_memory_bytes() const { return runner_->shared_memory_bytes(); }
LoaderStats DataLoader::stats() const { return runner_->stats(); }
std::vector<int> DataLoader::worker_pids() const { return runner_->worker_pids(); }

void DataLoader::start_epoch() { runner_->start_epoch(next_epoch_++); }

bool DataLoader::next(Batch& out) { return runner_->next(out); }

void DataLoader::close() noexcept { runner_->close(); }

DataLoader::Iterator DataLoader::begin() {
  start_epoch();
  return Iterator(this);
}

DataLoader::Iterator::Iterator(DataLoader* loader) : loader_(loader) {
  if (!loader_->next(current_)) loader_ = nullptr;
}

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  if (loader_ && !loader_->next(current_)) loader_ = nullptr;
  return *this;
}

LoaderState DataLoader::state() const {
  LoaderState s;
  s.seed = options_.seed;
  s.batch_size = options_.batch_size;
  s.dataset_size = detail::DatasetRef{dataset_, iterable_}.size();
  if (!runner_->save_unfinished(s)) s.epoch = next_epoch_;
  return s;
}

void DataLoader::load_state(const LoaderState& state) {
  auto mismatch = [](const char* what, auto mine, auto theirs) {
    throw InvalidOption(std::string("ferry: load_state: the state was saved with ") + what + "=" +
                        std::to_string(theirs) + " but this loader has " + what + "=" + std::to_string(mine) +
                        "; resume with the same dataset, seed and batch_size");
  };
  if (state.seed != options_.seed) mismatch("seed", options_.seed, state.seed);
  if (state.batch_size != options_.batch_size) mismatch("batch_size", options_.batch_size, state.batch_size);
  const int64_t size = detail::DatasetRef{dataset_, iterable_}.size();
  if (state.dataset_size != size) mismatch("dataset_size", size, state.dataset_size);
  if (iterable_ && !state.consumed.empty())
    throw InvalidOption(
        "ferry: load_state: the state is of a map-style dataset (consumed=...), this loader's is iterable");
  if (dataset_ && !state.stream_batches.empty())
    throw InvalidOption(
        "ferry: load_state: the state is of an iterable dataset (streams=...), this loader's is map-style");
  next_epoch_ = state.epoch;
  runner_->resume_from(state);
}

std::string DataLoader::describe() const {
  std::ostringstream o;
  const detail::DatasetRef ref{dataset_, iterable_};
  if (dataset_)
    o << "dataset: " << ref.describe() << " (" << ref.size() << " samples)\n";
  else
    o << "dataset: " << ref.describe() << " (iterable, "
      << (ref.size() >= 0 ? std::to_string(ref.size()) + " samples" : std::string("size unknown")) << ")\n";
  o << "fields:";
  for (const auto& f : schema_) {
    o << " " << f.name << ":" << dtype_name(f.dtype);
    if (f.ragged) {
      o << "[ragged]";
    } else {
      o << "[";
      for (size_t i = 0; i < f.shape.size(); ++i) o << (i ? "," : "") << f.shape[i];
      o << "]";
    }
  }
  o << "\n";
  o << "batches: " << size() << " x " << options_.batch_size << (options_.drop_last ? " (drop_last)" : "")
    << ", shuffle=" << (options_.shuffle ? "true" : "false") << ", seed=" << options_.seed << "\n";
  o << "workers: " << options_.num_workers << " x " << options_.threads_per_worker << " threads, prefetch "
    << options_.prefetch_factor << ", start " << to_string(options_.start_method)
    << (options_.persistent_workers ? ", persistent" : "") << (options_.in_order ? "" : ", out of order") << "\n";
  o << "memory: slot " << workers::format_bytes(double(slot_bytes())) << ", shared total "
    << workers::format_bytes(double(shared_memory_bytes())) << "\n";
  o << "sharing=" << to_string(options_.sharing) << ", on_bad_sample=" << to_string(options_.on_bad_sample)
    << ", on_worker_failure=" << to_string(options_.on_worker_failure);
  const std::string cuda = runner_->device_description();
  o << "\ncuda: " << (cuda.empty() ? "off (device=-1, pin_memory=off)" : cuda);
  return o.str();
}

}  // namespace ferry
