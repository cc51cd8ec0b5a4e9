#include "workers/spawned_worker.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "trace/trace.h"
#include "workers/channel.h"
#include "workers/detail/protocol.h"
#include "workers/detail/worker_main.h"
#include "workers/shared_segment.h"

namespace ferry::workers {

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
  Channel::Received in = channel.receive();
  if (in.status != Channel::Received::Status::kMessage) return 0;  // the loader went away before setup
  detail::SetupMsg setup_msg;
  try {
    ByteReader r(in.message);
    if (detail::read_type(r) != MsgType::kSetup || !in.fd.valid()) throw ProtocolError("not a setup message");
    setup_msg = detail::decode<detail::SetupMsg>(r);
  } catch (const ProtocolError& e) {
    std::fprintf(stderr, "ferry-worker: expected a setup message with the arena fd (%s)\n", e.what());
    return detail::kExitProtocolError;
  }
  // Rebuilding the dataset may take a while; it must not outlive the loader.
  detail::die_with_parent(setup_msg.parent_pid);
  detail::WorkerSetup setup;
  setup.worker_id = setup_msg.worker_id;
  setup.parent_pid = setup_msg.parent_pid;
  setup.name = setup_msg.name;
  setup.layout = {setup_msg.slot_bytes, setup_msg.num_slots};
  setup.named_segments = setup_msg.named_segments;
  setup.arena_fd = in.fd.release();  // mapped and closed by run_worker
  if (setup_msg.trace_recording) trace::set_recording(true);

  std::shared_ptr<Producer> producer;
  try {
    producer = factory(setup_msg.payload);
  } catch (const std::exception& e) {
    ByteWriter w;
    channel.send(detail::encode(
        detail::StartFailedMsg{std::string("rebuilding the pipeline in a spawned worker failed: ") + e.what()}, w));
    return 1;
  }
  detail::run_worker(std::move(setup), std::move(channel), *producer);
}

}  // namespace ferry::workers
