#include "tests/support/scripted_dataset.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "base/error.h"

namespace ferry::testing {

Schema ScriptedDataset::schema() const {
  Schema s;
  s.push_back({"index", DType::kInt64, {}, false, 0});
  s.push_back({"random", DType::kInt64, {}, false, 0});
  s.push_back({"init", DType::kInt64, {}, false, 0});
  s.push_back({"payload", DType::kUInt8, {payload_bytes_}, false, 0});
  if (ragged_capacity_ > 0) s.push_back({"tokens", DType::kInt32, {}, true, ragged_capacity_});
  return s;
}

void ScriptedDataset::get(SampleContext& ctx, SampleWriter& out) {
  if (auto it = script_.find(ctx.index); it != script_.end()) {
    switch (it->second) {
      case Misbehave::kThrow:
        throw std::runtime_error("scripted failure at index " + std::to_string(ctx.index));
      case Misbehave::kBadSample:
        throw BadSample("/data/broken-" + std::to_string(ctx.index) + ".jpg: Not a JPEG file");
      case Misbehave::kSegfault:
        signal(SIGSEGV, SIG_DFL);  // past any sanitizer's handler
        raise(SIGSEGV);
        break;
      case Misbehave::kKillSelf:
        kill(getpid(), SIGKILL);
        break;
      case Misbehave::kKillSelfOnce: {
        const std::string marker = marker_dir_ + "/killed-" + std::to_string(ctx.index);
        if (access(marker.c_str(), F_OK) != 0) {
          if (FILE* f = fopen(marker.c_str(), "w")) fclose(f);
          kill(getpid(), SIGKILL);
        }
        break;
      }
      case Misbehave::kHang:
        // With a marker dir of its own, a test can see the hang has begun.
        if (marker_dir_set_)
          if (FILE* f = fopen((marker_dir_ + "/hanging-" + std::to_string(ctx.index)).c_str(), "w")) fclose(f);
        for (;;) pause();
      case Misbehave::kSleep50ms:
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        break;
    }
  }
  *out.fixed_as<int64_t>(0) = ctx.index;
  const uint64_t r = ctx.rng.next_u64();
  *out.fixed_as<int64_t>(1) = static_cast<int64_t>(r);
  *out.fixed_as<int64_t>(2) = init_mark;
  auto* p = out.fixed_as<uint8_t>(3);
  for (int64_t i = 0; i < payload_bytes_; ++i) p[i] = static_cast<uint8_t>((r >> (i % 8 * 8)) + uint64_t(i));
  if (ragged_capacity_ > 0) {
    const int64_t n = tokens_for(ctx.index);
    auto* t = static_cast<int32_t*>(out.ragged(4, n));
    for (int64_t i = 0; i < n; ++i) t[i] = static_cast<int32_t>(ctx.index * 100 + i);
  }
}

DatasetSpec ScriptedDataset::spec() const {
  if (!spawnable_) return {};
  std::ostringstream o;
  o << size_ << " " << payload_bytes_ << " " << ragged_capacity_ << " " << marker_dir_;
  for (const auto& [index, what] : script_) o << " " << index << ":" << int(what);
  return {"scripted", o.str()};
}

std::shared_ptr<ScriptedDataset> ScriptedDataset::from_args(const std::string& args) {
  std::istringstream in(args);
  int64_t size = 0, payload = 0, ragged = 0;
  std::string marker;
  in >> size >> payload >> ragged >> marker;
  auto ds = std::make_shared<ScriptedDataset>(size, payload, ragged);
  ds->spawnable();
  if (marker != "/tmp") ds->marker_dir(marker);
  for (std::string item; in >> item;) {
    const auto colon = item.find(':');
    ds->on(std::stoll(item.substr(0, colon)), static_cast<Misbehave>(std::stoi(item.substr(colon + 1))));
  }
  return ds;
}

}  // namespace ferry::testing
