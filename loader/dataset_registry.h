#pragma once
/// Dataset kinds a spawned worker can rebuild from a DatasetSpec.
///
///   // in your library, once (e.g. a static initializer of a plugin .so):
///   static const bool registered = ferry::register_dataset(
///       "my-tokens", [](const std::string& args) { return std::make_shared<MyTokens>(args); });
///   // and in the dataset:  DatasetSpec spec() const override { return {"my-tokens", path_}; }
///
/// ferry's own datasets are registered by register_builtin_datasets(), which
/// the ferry-worker executable calls; code outside it reaches the worker as a
/// plugin (LoaderOptions::plugins).
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "loader/dataset.h"
#include "loader/iterable_dataset.h"

namespace ferry {

using DatasetFactory = std::function<std::shared_ptr<Dataset>(const std::string& args)>;
using IterableDatasetFactory = std::function<std::shared_ptr<IterableDataset>(const std::string& args)>;

/// Registers (or replaces) `kind`. Returns true, for use in static initializers.
bool register_dataset(const std::string& kind, DatasetFactory factory);
bool dataset_registered(const std::string& kind);
std::vector<std::string> registered_dataset_kinds();
/// Builds a dataset; throws InvalidOption naming the kind and the known kinds.
std::shared_ptr<Dataset> make_dataset(const DatasetSpec& spec);

/// The same for iterable datasets (a kind names one or the other).
bool register_iterable_dataset(const std::string& kind, IterableDatasetFactory factory);
std::shared_ptr<IterableDataset> make_iterable_dataset(const DatasetSpec& spec);

/// ferry's built-in kinds (images from any source, raw bytes).
void register_builtin_datasets();

}  // namespace ferry
