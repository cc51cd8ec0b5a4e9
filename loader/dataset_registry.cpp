#include "loader/dataset_registry.h"

#include <map>
#include <mutex>

#include "base/error.h"

namespace ferry {
namespace {

std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
// A kind's factory: map-style or iterable.
struct Factory {
  DatasetFactory map;
  IterableDatasetFactory iterable;
};

std::map<std::string, Factory>& registry() {
  static std::map<std::string, Factory> r;
  return r;
}

Factory find(const std::string& kind) {
  {
    std::lock_guard lock(registry_mutex());
    auto it = registry().find(kind);
    if (it != registry().end()) return it->second;
  }
  std::string known;
  for (const auto& k : registered_dataset_kinds()) known += (known.empty() ? "" : ", ") + k;
  throw InvalidOption("ferry: no dataset kind '" + kind +
                      "' is registered (known: " + (known.empty() ? "none" : known) +
                      "). Register it with ferry::register_dataset in a plugin listed in LoaderOptions::plugins.");
}

}  // namespace

bool register_dataset(const std::string& kind, DatasetFactory factory) {
  if (kind.empty()) throw InvalidOption("ferry: register_dataset needs a non-empty kind");
  std::lock_guard lock(registry_mutex());
  registry()[kind] = Factory{std::move(factory), {}};
  return true;
}

bool register_iterable_dataset(const std::string& kind, IterableDatasetFactory factory) {
  if (kind.empty()) throw InvalidOption("ferry: register_iterable_dataset needs a non-empty kind");
  std::lock_guard lock(registry_mutex());
  registry()[kind] = Factory{{}, std::move(factory)};
  return true;
}

bool dataset_registered(const std::string& kind) {
  std::lock_guard lock(registry_mutex());
  return registry().count(kind) != 0;
}

std::vector<std::string> registered_dataset_kinds() {
  std::lock_guard lock(registry_mutex());
  std::vector<std::string> out;
  for (const auto& [k, f] : registry()) out.push_back(k);
  return out;
}

std::shared_ptr<Dataset> make_dataset(const DatasetSpec& spec) {
  const Factory f = find(spec.kind);
  if (!f.map)
    throw InvalidOption("ferry: dataset kind '" + spec.kind + "' is an iterable dataset, not a map-style one");
  auto ds = f.map(spec.args);
  if (!ds) throw InvalidOption("ferry: the factory of dataset kind '" + spec.kind + "' returned null");
  return ds;
}

std::shared_ptr<IterableDataset> make_iterable_dataset(const DatasetSpec& spec) {
  const Factory f = find(spec.kind);
  if (!f.iterable)
    throw InvalidOption("ferry: dataset kind '" + spec.kind + "' is a map-style dataset, not an iterable one");
  auto ds = f.iterable(spec.args);
  if (!ds) throw InvalidOption("ferry: the factory of dataset kind '" + spec.kind + "' returned null");
  return ds;
}

}  // namespace ferry
