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
std::map<std::string, DatasetFactory>& registry() {
  static std::map<std::string, DatasetFactory> r;
  return r;
}

}  // namespace

bool register_dataset(const std::string& kind, DatasetFactory factory) {
  if (kind.empty()) throw InvalidOption("ferry: register_dataset needs a non-empty kind");
  std::lock_guard lock(registry_mutex());
  registry()[kind] = std::move(factory);
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
  DatasetFactory factory;
  {
    std::lock_guard lock(registry_mutex());
    auto it = registry().find(spec.kind);
    if (it != registry().end()) factory = it->second;
  }
  if (!factory) {
    std::string known;
    for (const auto& k : registered_dataset_kinds()) known += (known.empty() ? "" : ", ") + k;
    throw InvalidOption("ferry: no dataset kind '" + spec.kind +
                        "' is registered (known: " + (known.empty() ? "none" : known) +
                        "). Register it with ferry::register_dataset in a plugin listed in LoaderOptions::plugins.");
  }
  auto ds = factory(spec.args);
  if (!ds) throw InvalidOption("ferry: the factory of dataset kind '" + spec.kind + "' returned null");
  return ds;
}

}  // namespace ferry
