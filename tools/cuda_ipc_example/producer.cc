// ferry-ipc-producer: serves device batches to one consumer process over CUDA
// IPC. Each batch is a pooled device buffer filled with the byte (id % 251);
// a buffer is lent again only after the consumer returned it, everything
// comes back if the consumer dies, and the buffers are freed only after the
// consumer has closed its handles to them (or its process has ended).
//
//   ferry-ipc-producer --socket @ferry-ipc --batches 200 --buffers 4 --bytes 1048576
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "cuda/device_buffer_pool.h"
#include "cuda/ipc.h"
#include "cuda/runtime.h"
#include "tools/cuda_ipc_example/args.h"
#include "trace/trace.h"

using namespace ferry;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) try {
  const std::string name = example::arg(argc, argv, "--socket", "@ferry-ipc-example");
  const auto batches = example::arg_int(argc, argv, "--batches", 100);
  const auto buffers = static_cast<size_t>(example::arg_int(argc, argv, "--buffers", 4));
  const auto bytes = static_cast<size_t>(example::arg_int(argc, argv, "--bytes", 1 << 20));
  const auto timeout = std::chrono::milliseconds(example::arg_int(argc, argv, "--timeout-ms", 30000));
  trace::name_this_thread("ferry-producer");

  const auto st = cuda::device_status();
  if (!st.available) {
    std::fprintf(stderr, "producer: no GPU: %s\n", st.reason.c_str());
    return 2;
  }
  cuda::ScopedDevice on(0);
  cuda::DeviceBufferPool pool(0, buffers, bytes, /*interprocess_events=*/true);
  std::vector<cuda::IpcBufferDescriptor> exported;
  for (uint32_t i = 0; i < buffers; ++i) {
    auto d = cuda::export_buffer(pool.buffer(i).data, pool.ready_event(i), 0);
    d.bytes = bytes;
    d.dtype = DType::kUInt8;
    d.ndim = 1;
    d.shape[0] = static_cast<int64_t>(bytes);
    exported.push_back(d);
  }
  cuda::Stream stream = cuda::Stream::non_blocking();

  cuda::IpcServer server(name);
  std::printf("producer: listening on %s (%zu buffers of %zu bytes on %s)\n", name.c_str(), buffers, bytes,
              st.name.c_str());
  std::fflush(stdout);
  auto conn = server.accept(timeout);
  if (!conn) throw Timeout("producer: no consumer connected to " + name);

  std::map<uint64_t, cuda::DeviceBuffer> lent;
  auto take_back = [&](const std::vector<uint64_t>& ids) {
    for (uint64_t id : ids) {
      // Returned (or its holder died): the consumer's work on it is over.
      pool.release(lent.at(id), nullptr);
      lent.erase(id);
    }
  };

  long long served = 0;
  for (long long b = 0; b < batches && conn->connected(); ++b) {
    std::optional<cuda::DeviceBuffer> buf;
    const auto deadline = Clock::now() + timeout;
    while (!(buf = pool.try_acquire()) && conn->connected()) {
      take_back(conn->collect_returns(std::chrono::milliseconds(10)));
      if (Clock::now() > deadline) throw Timeout("producer: the consumer returned nothing in time");
    }
    if (!buf) break;
    FERRY_CUDA_CHECK(cudaMemsetAsync(buf->data, static_cast<int>(b % 251), bytes, stream.get()));
    FERRY_CUDA_CHECK(cudaEventRecord(pool.ready_event(buf->index), stream.get()));
    auto d = exported[buf->index];
    d.id = static_cast<uint64_t>(b);
    if (!conn->send(d)) {
      pool.release_after(*buf, stream.get());  // never lent: ours again once the fill is done
      break;
    }
    lent[d.id] = *buf;
    ++served;
  }
  // Wait for the consumer to give everything back (or to die).
  const auto deadline = Clock::now() + timeout;
  while (!lent.empty() && conn->connected() && Clock::now() < deadline) {
    take_back(conn->collect_returns(std::chrono::milliseconds(100)));
  }
  const bool consumer_died = !conn->connected();
  take_back(conn->collect_returns(std::chrono::milliseconds(0)));
  // End of stream; the buffers are freed (with the pool) only once the
  // consumer has closed its handles to them, or its process has ended.
  const auto finished = conn->finish(timeout);
  take_back(finished.returned);
  conn.reset();
  stream.synchronize();
  const size_t back = pool.free_count();
  std::printf("producer: served %lld of %lld batches; consumer %s; %zu of %zu buffers back; handles %s\n", served,
              batches, consumer_died ? "disconnected (exited or died)" : "finished", back, pool.count(),
              finished.handles_closed ? "closed" : "STILL OPEN");
  if (!finished.handles_closed) {
    std::fprintf(stderr, "producer: the consumer did not close its CUDA IPC handles within %lld ms\n",
                 static_cast<long long>(timeout.count()));
    return 1;
  }
  return back == pool.count() ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "producer: %s\n", e.what());
  return 1;
}
