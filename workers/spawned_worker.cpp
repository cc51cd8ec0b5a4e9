#include "workers/spawned_worker.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "trace/trace.h"
#include "workers/channel.h"
#include "workers/detail/messages.h"
#include "workers/detail/wire.h"
#include "workers/detail/worker_main.h"
#include "workers/shared_segment.h"

namespace ferry::workers {

using detail::ByteReader;
using detail::ByteWriter;
using detail::MsgType;

int serve_spawned_worker(int argc, char** argv, const ProducerFactory& factory) {
  int fd = -1;
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], "--ferry-worker-fd=", 18) == 0) fd = std::atoi(argv[i] + 18);
  if (fd < 0) {
    std::fprintf(stderr,
                 "ferry-worker: this program is started by ferry's DataLoader (start_method=spawn), "
                 "not by hand.\n");
    return 2;
  }
  Channel channel{UniqueFd(fd)};
  std::vector<std::byte> buffer;
  UniqueFd arena_fd;
  if (!channel.receive(buffer, &arena_fd)) return 0;  // the loader went away before setup
  ByteReader r(buffer);
  if (r.get<MsgType>() != MsgType::kSetup || !arena_fd.valid()) {
    std::fprintf(stderr, "ferry-worker: expected a setup message with the arena fd\n");
    return 3;
  }
  detail::WorkerSetup setup;
  setup.worker_id = r.get<int32_t>();
  setup.parent_pid = r.get<int32_t>();
  setup.name = r.get_string();
  setup.slot_bytes = r.get<uint64_t>();
  setup.num_slots = r.get<int32_t>();
  const uint64_t arena_bytes = r.get<uint64_t>();
  setup.named_segments = r.get<bool>();
  if (r.get<bool>()) trace::set_recording(true);
  const auto payload = r.get_bytes();

  SharedSegment arena = SharedSegment::map(std::move(arena_fd), arena_bytes);
  arena.close_fd();
  setup.arena = arena.data();
  setup.status = reinterpret_cast<int64_t*>(setup.arena + setup.slot_bytes * size_t(setup.num_slots));

  std::shared_ptr<Producer> producer;
  try {
    producer = factory(payload);
  } catch (const std::exception& e) {
    ByteWriter w;
    w.put(MsgType::kStartFailed);
    w.put_string(std::string("rebuilding the pipeline in a spawned worker failed: ") + e.what());
    channel.send(w.buffer());
    return 1;
  }
  detail::run_worker(setup, std::move(channel), *producer);
}

}  // namespace ferry::workers
