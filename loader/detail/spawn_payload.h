#pragma once
// What a spawned worker needs to rebuild the batch producer: the dataset's
// spec, plugins to load first, and the options that shape a batch. The schema
// travels too, so a rebuilt dataset that differs is caught at start.
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "loader/dataset.h"
#include "loader/options.h"
#include "workers/producer.h"

namespace ferry::detail {

// `iterable`: the spec names an iterable dataset kind.
std::vector<std::byte> encode_spawn_payload(const DatasetSpec& dataset, bool iterable, const Schema& schema,
                                            const LoaderOptions& options, int64_t dataset_size);
// The ProducerFactory of the ferry-worker executable.
std::shared_ptr<workers::Producer> make_spawned_producer(std::span<const std::byte> payload);

// Where the ferry-worker executable is: the option, $FERRY_WORKER, beside this
// executable, then ferry's build tree. Throws InvalidOption listing the places.
std::string find_worker_executable(const std::string& configured);

// Threads of this process (from /proc/self/status).
int count_threads();

}  // namespace ferry::detail
