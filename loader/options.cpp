#include "loader/options.h"

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

std::string to_string(StartMethod m) {
  switch (m) {
    case StartMethod::kAuto:
      return "auto";
    case StartMethod::kFork:
      return "fork";
    case StartMethod::kSpawn:
      return "spawn";
  }
  return "?";
}

std::string to_string(OnBadSample p) {
  switch (p) {
    case OnBadSample::kError:
      return "error";
    case OnBadSample::kSkip:
      return "skip";
    case OnBadSample::kSubstitute:
      return "substitute";
  }
  return "?";
}

std::string to_string(PinMemory p) {
  switch (p) {
    case PinMemory::kOff:
      return "off";
    case PinMemory::kOn:
      return "on";
    case PinMemory::kAuto:
      return "auto";
  }
  return "?";
}

std::string to_string(Sharing s) { return s == Sharing::kFileSystem ? "file_system" : "file_descriptor"; }

std::string to_string(OnWorkerFailure p) {
  switch (p) {
    case OnWorkerFailure::kError:
      return "error";
    case OnWorkerFailure::kRespawn:
      return "respawn";
  }
  return "?";
}

}  // namespace ferry
