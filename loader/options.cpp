#include "loader/options.h"

#include <span>

#include "base/error.h"

namespace ferry {
namespace {

void require(bool ok, const std::string& option, const std::string& allowed, const std::string& got) {
  if (!ok) throw InvalidOption("ferry: option " + option + " must be " + allowed + ", got " + got);
}

}  // namespace

void LoaderOptions::validate() const {
  require(batch_size >= 1 && batch_size <= (1 << 24), "batch_size", "in [1, 16777216]", std::to_string(batch_size));
  require(num_workers >= 0 && num_workers <= 1024, "num_workers", "in [0, 1024]", std::to_string(num_workers));
  require(prefetch_factor >= 1 && prefetch_factor <= 64, "prefetch_factor", "in [1, 64]",
          std::to_string(prefetch_factor));
  require(timeout.count() >= 0, "timeout", ">= 0 ms (0 = no limit)", std::to_string(timeout.count()) + " ms");
  require(threads_per_worker >= 1 && threads_per_worker <= 256, "threads_per_worker", "in [1, 256]",
          std::to_string(threads_per_worker));
  require(slots_per_worker == 0 || slots_per_worker >= prefetch_factor, "slots_per_worker",
          "0 (automatic) or >= prefetch_factor (" + std::to_string(prefetch_factor) + ")",
          std::to_string(slots_per_worker));
  require(max_respawns >= 0 && max_respawns <= 1000, "max_respawns", "in [0, 1000]", std::to_string(max_respawns));
  require(slots_per_worker <= 256, "slots_per_worker", "<= 256", std::to_string(slots_per_worker));
  require(!(persistent_workers && num_workers == 0), "persistent_workers", "false when num_workers is 0", "true");
  require(device >= -1 && device < 1024, "device", "-1 (batches stay on the host) or a CUDA device in [0, 1024)",
          std::to_string(device));
  require(pin_memory == PinMemory::kOff || pin_memory == PinMemory::kOn || pin_memory == PinMemory::kAuto, "pin_memory",
          "off, on or auto", std::to_string(int(pin_memory)));
#ifndef FERRY_HAVE_CUDA
  // Whether a GPU is usable is checked when the DataLoader is built (it needs
  // the CUDA runtime); without the CUDA stage the answer is known now.
  const char* no_cuda = " needs the CUDA stage, but this ferry was built without it (no CUDA toolkit at build time)";
  if (device >= 0) throw InvalidOption("ferry: option device=" + std::to_string(device) + no_cuda);
  if (pin_memory == PinMemory::kOn) throw InvalidOption(std::string("ferry: option pin_memory=on") + no_cuda);
#endif
}

namespace {

template <class E>
struct Named {
  E value;
  std::string_view name;
};

constexpr Named<StartMethod> kStartMethods[] = {
    {StartMethod::kAuto, "auto"}, {StartMethod::kFork, "fork"}, {StartMethod::kSpawn, "spawn"}};
constexpr Named<OnBadSample> kBadSamplePolicies[] = {
    {OnBadSample::kError, "error"}, {OnBadSample::kSkip, "skip"}, {OnBadSample::kSubstitute, "substitute"}};
constexpr Named<OnWorkerFailure> kWorkerFailurePolicies[] = {{OnWorkerFailure::kError, "error"},
                                                             {OnWorkerFailure::kRespawn, "respawn"}};
constexpr Named<Sharing> kSharings[] = {{Sharing::kFileDescriptor, "file_descriptor"},
                                        {Sharing::kFileSystem, "file_system"}};
constexpr Named<PinMemory> kPinMemories[] = {
    {PinMemory::kOff, "off"}, {PinMemory::kOn, "on"}, {PinMemory::kAuto, "auto"}};

template <class E>
constexpr std::span<const Named<E>> table();
template <>
constexpr std::span<const Named<StartMethod>> table() {
  return kStartMethods;
}
template <>
constexpr std::span<const Named<OnBadSample>> table() {
  return kBadSamplePolicies;
}
template <>
constexpr std::span<const Named<OnWorkerFailure>> table() {
  return kWorkerFailurePolicies;
}
template <>
constexpr std::span<const Named<Sharing>> table() {
  return kSharings;
}
template <>
constexpr std::span<const Named<PinMemory>> table() {
  return kPinMemories;
}

template <class E>
std::string name_of(E value) {
  for (const auto& n : table<E>())
    if (n.value == value) return std::string(n.name);
  return "?" + std::to_string(int(value));
}

}  // namespace

template <class E>
std::vector<std::string> option_names() {
  std::vector<std::string> out;
  for (const auto& n : table<E>()) out.emplace_back(n.name);
  return out;
}

template <class E>
E parse_option(std::string_view option, std::string_view name) {
  for (const auto& n : table<E>())
    if (n.name == name) return n.value;
  std::string names;
  for (const auto& n : table<E>()) names += (names.empty() ? "" : ", ") + std::string(n.name);
  throw InvalidOption("ferry: option " + std::string(option) + " must be one of " + names + ", got '" +
                      std::string(name) + "'");
}

#define FERRY_OPTION_ENUM(E)                                                  \
  template E parse_option<E>(std::string_view option, std::string_view name); \
  template std::vector<std::string> option_names<E>();                        \
  std::string to_string(E v) { return name_of(v); }
FERRY_OPTION_ENUM(StartMethod)
FERRY_OPTION_ENUM(OnBadSample)
FERRY_OPTION_ENUM(OnWorkerFailure)
FERRY_OPTION_ENUM(Sharing)
FERRY_OPTION_ENUM(PinMemory)
#undef FERRY_OPTION_ENUM

std::shared_ptr<Sampler> make_default_sampler(const LoaderOptions& options) {
  if (options.sampler) return options.sampler;
  if (options.shuffle) return std::make_shared<RandomSampler>(options.seed);
  return std::make_shared<SequentialSampler>();
}

}  // namespace ferry
