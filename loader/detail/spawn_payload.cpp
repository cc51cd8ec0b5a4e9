#include "loader/detail/spawn_payload.h"

#include <dlfcn.h>
#include <unistd.h>

#include <fstream>

#include "base/byte_io.h"
#include "base/error.h"
#include "loader/dataset_registry.h"
#include "loader/detail/batch_filler.h"
#include "loader/detail/stream_producer.h"

namespace ferry::detail {

std::vector<std::byte> encode_spawn_payload(const DatasetSpec& dataset, bool iterable, const Schema& schema,
                                            const LoaderOptions& options, int64_t dataset_size) {
  ByteWriter w;
  w.put(iterable);
  w.put(options.num_workers);
  w.put_string(dataset.kind);
  w.put_string(dataset.args);
  w.put<uint32_t>(uint32_t(options.plugins.size()));
  for (const auto& p : options.plugins) w.put_string(p);
  w.put(options.seed);
  w.put(options.batch_size);
  w.put(options.on_bad_sample);
  w.put(options.threads_per_worker);
  w.put(dataset_size);
  w.put<uint32_t>(uint32_t(schema.size()));
  for (const auto& f : schema) {
    w.put_string(f.name);
    w.put(f.dtype);
    w.put_vector<int64_t>(f.shape);
    w.put(f.ragged);
    w.put(f.ragged_capacity);
  }
  return std::move(w.buffer());
}

std::shared_ptr<workers::Producer> make_spawned_producer(std::span<const std::byte> payload) {
  ByteReader r(payload);
  const bool iterable = r.get<bool>();
  const int num_workers = r.get<int>();
  DatasetSpec spec;
  spec.kind = r.get_string();
  spec.args = r.get_string();
  const uint32_t plugins = r.get<uint32_t>();
  for (uint32_t i = 0; i < plugins; ++i) {
    const std::string path = r.get_string();
    // Kept loaded for the life of the worker: its datasets live in it.
    if (!dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL))
      throw InvalidOption("ferry: loading plugin " + path + " failed: " + dlerror());
  }
  LoaderOptions options;
  options.seed = r.get<uint64_t>();
  options.batch_size = r.get<int64_t>();
  options.on_bad_sample = r.get<OnBadSample>();
  options.threads_per_worker = r.get<int>();
  const int64_t dataset_size = r.get<int64_t>();
  Schema schema(r.get<uint32_t>());
  for (auto& f : schema) {
    f.name = r.get_string();
    f.dtype = r.get<DType>();
    f.shape = r.get_vector<int64_t>();
    f.ragged = r.get<bool>();
    f.ragged_capacity = r.get<int64_t>();
  }
  auto same_schema = [&](const Schema& rebuilt) {
    bool same = rebuilt.size() == schema.size();
    for (size_t i = 0; same && i < schema.size(); ++i)
      same = rebuilt[i].name == schema[i].name && rebuilt[i].dtype == schema[i].dtype &&
             rebuilt[i].shape == schema[i].shape && rebuilt[i].ragged == schema[i].ragged &&
             rebuilt[i].ragged_capacity == schema[i].ragged_capacity;
    if (!same)
      throw InvalidOption("ferry: dataset '" + spec.kind +
                          "' rebuilt in the worker has another schema than in the "
                          "main process; its spec() must capture everything that shapes the schema");
  };
  if (iterable) {
    auto dataset = make_iterable_dataset(spec);
    same_schema(dataset->schema());
    auto filler = std::make_shared<BatchFiller>(nullptr, SlotLayout(schema, options.batch_size), options);
    return std::make_shared<StreamProducer>(dataset, filler, num_workers);
  }
  auto dataset = make_dataset(spec);
  same_schema(dataset->schema());
  // Rebuilt from a spec, the dataset re-reads its storage: files added or
  // removed since the main process indexed it would shift every index.
  if (dataset->size() != dataset_size)
    throw DataError("ferry: dataset '" + spec.kind + "' has " + std::to_string(dataset->size()) +
                    " samples in the spawned worker but " + std::to_string(dataset_size) +
                    " in the main process; its files changed after the loader was made. Recreate the loader.");
  auto filler = std::make_shared<BatchFiller>(dataset, SlotLayout(schema, options.batch_size), options);
  return std::make_shared<DatasetProducer>(filler);
}

std::string find_worker_executable(const std::string& configured) {
  std::vector<std::string> tried;
  auto usable = [&](const std::string& p) {
    tried.push_back(p);
    return !p.empty() && access(p.c_str(), X_OK) == 0;
  };
  if (!configured.empty()) {
    if (usable(configured)) return configured;
    throw InvalidOption("ferry: worker_executable " + configured + " is not an executable file");
  }
  if (const char* env = std::getenv("FERRY_WORKER"); env && *env) {
    if (usable(env)) return env;
  }
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    std::string dir(self, size_t(n));
    dir = dir.substr(0, dir.rfind('/'));
    if (usable(dir + "/ferry-worker")) return dir + "/ferry-worker";
  }
#ifdef FERRY_BUILD_BIN_DIR
  if (usable(std::string(FERRY_BUILD_BIN_DIR) + "/ferry-worker"))
    return std::string(FERRY_BUILD_BIN_DIR) + "/ferry-worker";
#endif
#ifdef FERRY_INSTALL_BIN_DIR
  if (usable(std::string(FERRY_INSTALL_BIN_DIR) + "/ferry-worker"))
    return std::string(FERRY_INSTALL_BIN_DIR) + "/ferry-worker";
#endif
  std::string list;
  for (const auto& t : tried) list += (list.empty() ? "" : ", ") + t;
  throw InvalidOption("ferry: the spawn start method needs the ferry-worker executable; looked in: " + list +
                      ". Set LoaderOptions::worker_executable or $FERRY_WORKER.");
}

int count_threads() {
  int n = 1;
  std::ifstream f("/proc/self/status");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("Threads:", 0) == 0) n = std::stoi(line.substr(8));
#if defined(__SANITIZE_THREAD__)
  // ThreadSanitizer starts one thread of its own at the first pthread_create
  // and keeps it; its runtime is fork-aware, so that one does not count.
  if (n > 1) --n;
#endif
  return n;
}

}  // namespace ferry::detail
