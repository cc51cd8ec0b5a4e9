#pragma once
// The dataset a loader reads: map-style or iterable, exactly one of them.
#include <memory>
#include <string>

#include "loader/dataset.h"
#include "loader/iterable_dataset.h"

namespace ferry::detail {

struct DatasetRef {
  std::shared_ptr<Dataset> map;
  std::shared_ptr<IterableDataset> iterable;

  Schema schema() const { return map ? map->schema() : iterable->schema(); }
  std::string describe() const { return map ? map->describe() : iterable->describe(); }
  DatasetSpec spec() const { return map ? map->spec() : iterable->spec(); }
  // Samples per epoch: the size of a map-style dataset, an iterable one's
  // hint (-1: not known).
  int64_t size() const { return map ? map->size() : iterable->size_hint(); }
};

}  // namespace ferry::detail
