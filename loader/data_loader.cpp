#include "loader/data_loader.h"

#include <sstream>

#include "base/error.h"
#include "loader/detail/epoch_runner.h"
#include "workers/shared_segment.h"

namespace ferry {

DataLoader::DataLoader(std::shared_ptr<Dataset> dataset, LoaderOptions options)
    : dataset_(std::move(dataset)), options_(std::move(options)) {
  if (!dataset_) throw InvalidOption("ferry: DataLoader needs a dataset, got null");
  options_.validate();
  schema_ = dataset_->schema();
  if (schema_.empty()) throw InvalidOption("ferry: dataset " + dataset_->describe() + " has an empty schema");
  runner_ = std::make_unique<detail::EpochRunner>(dataset_, options_, schema_);
}

DataLoader::~DataLoader() = default;

int64_t DataLoader::size() const { return runner_->batches_per_epoch(); }
size_t DataLoader::slot_bytes() const { return runner_->slot_bytes(); }
size_t DataLoader::shared_memory_bytes() const { return runner_->shared_memory_bytes(); }
LoaderStats DataLoader::stats() const { return runner_->stats(); }
std::vector<int> DataLoader::worker_pids() const { return runner_->worker_pids(); }

void DataLoader::start_epoch() { runner_->start_epoch(next_epoch_++); }

bool DataLoader::next(Batch& out) { return runner_->next(out); }

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
  s.dataset_size = dataset_->size();
  if (runner_->epoch_active()) {
    s.epoch = next_epoch_ - 1;  // begin() already advanced it
    s.consumed = runner_->delivered_batches();
  } else {
    s.epoch = next_epoch_;
  }
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
  if (state.dataset_size != dataset_->size()) mismatch("dataset_size", dataset_->size(), state.dataset_size);
  next_epoch_ = state.epoch;
  runner_->resume_after(state.consumed);
}

std::string LoaderState::serialize() const {
  std::ostringstream out;
  out << "ferry-state 1 epoch=" << epoch << " seed=" << seed << " batch_size=" << batch_size
      << " dataset_size=" << dataset_size << " consumed=";
  // Runs "a-b" keep the common case (a prefix) short.
  for (size_t i = 0; i < consumed.size();) {
    size_t j = i;
    while (j + 1 < consumed.size() && consumed[j + 1] == consumed[j] + 1) ++j;
    out << (i ? "," : "") << consumed[i];
    if (j > i) out << "-" << consumed[j];
    i = j + 1;
  }
  return out.str();
}

LoaderState LoaderState::parse(const std::string& text) {
  auto bad = [&](const std::string& why) -> InvalidOption {
    return InvalidOption("ferry: not a loader state (" + why + "): '" + text.substr(0, 120) + "'");
  };
  std::istringstream in(text);
  std::string magic, version;
  in >> magic >> version;
  if (magic != "ferry-state") throw bad("missing 'ferry-state'");
  if (version != "1") throw bad("version " + version + ", this build reads version 1");
  LoaderState s;
  bool have[5] = {};
  for (std::string kv; in >> kv;) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos) throw bad("'" + kv + "' is not key=value");
    const std::string key = kv.substr(0, eq), value = kv.substr(eq + 1);
    try {
      if (key == "epoch")
        s.epoch = std::stoull(value), have[0] = true;
      else if (key == "seed")
        s.seed = std::stoull(value), have[1] = true;
      else if (key == "batch_size")
        s.batch_size = std::stoll(value), have[2] = true;
      else if (key == "dataset_size")
        s.dataset_size = std::stoll(value), have[3] = true;
      else if (key == "consumed") {
        have[4] = true;
        std::istringstream runs(value);
        for (std::string run; std::getline(runs, run, ',');) {
          const auto dash = run.find('-');
          const int64_t a = std::stoll(run.substr(0, dash));
          const int64_t b = dash == std::string::npos ? a : std::stoll(run.substr(dash + 1));
          if (b < a || a < 0) throw bad("bad range '" + run + "'");
          for (int64_t v = a; v <= b; ++v) s.consumed.push_back(v);
        }
      } else {
        throw bad("unknown key '" + key + "'");
      }
    } catch (const std::logic_error&) {
      throw bad("bad number in '" + kv + "'");
    }
  }
  for (bool h : have)
    if (!h) throw bad("a field is missing");
  return s;
}

std::string DataLoader::describe() const {
  std::ostringstream o;
  o << "dataset: " << dataset_->describe() << " (" << dataset_->size() << " samples)\n";
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
