// A plugin for spawned workers: registers the "scripted" dataset kind when
// the ferry-worker process loads it (LoaderOptions::plugins).
#include "loader/dataset_registry.h"
#include "tests/support/scripted_dataset.h"

namespace {
const bool registered = ferry::register_dataset(
    "scripted", [](const std::string& args) { return ferry::testing::ScriptedDataset::from_args(args); });
}  // namespace
