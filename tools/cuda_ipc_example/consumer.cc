// ferry-ipc-consumer: receives device batches from ferry-ipc-producer, waits
// for each on its own stream, checks every byte, and returns the buffer as
// soon as it is done. --die-after K kills itself (SIGKILL) while holding the
// K-th batch, to show that the producer gets everything back.
//
//   ferry-ipc-consumer --socket @ferry-ipc --expect 200
#include <signal.h>

#include <cstdio>
#include <string>
#include <vector>

#include "cuda/ipc.h"
#include "cuda/runtime.h"
#include "tools/cuda_ipc_example/args.h"
#include "trace/trace.h"

using namespace ferry;

int main(int argc, char** argv) try {
  const std::string name = example::arg(argc, argv, "--socket", "@ferry-ipc-example");
  const auto expect = example::arg_int(argc, argv, "--expect", 0);
  const auto die_after = example::arg_int(argc, argv, "--die-after", 0);
  const auto timeout = std::chrono::milliseconds(example::arg_int(argc, argv, "--timeout-ms", 30000));
  trace::name_this_thread("ferry-consumer");

  const auto st = cuda::device_status();
  if (!st.available) {
    std::fprintf(stderr, "consumer: no GPU: %s\n", st.reason.c_str());
    return 2;
  }
  cuda::ScopedDevice on(0);
  cuda::Stream stream = cuda::Stream::non_blocking();
  cuda::IpcClient client(name, timeout);
  std::vector<unsigned char> host;
  long long received = 0, bad = 0;
  while (auto b = client.receive(timeout)) {
    ++received;
    b->wait_on(stream.get());  // the "training step" starts after the producer's fill
    host.resize(b->bytes);
    FERRY_CUDA_CHECK(cudaMemcpyAsync(host.data(), b->data, b->bytes, cudaMemcpyDeviceToHost, stream.get()));
    stream.synchronize();
    const auto want = static_cast<unsigned char>(b->id % 251);
    for (unsigned char v : host) {
      if (v != want) {
        ++bad;
        std::fprintf(stderr, "consumer: batch %llu has byte %d, expected %d\n", static_cast<unsigned long long>(b->id),
                     v, want);
        break;
      }
    }
    if (die_after > 0 && received == die_after) {
      std::printf("consumer: killing myself while holding batch %llu\n", static_cast<unsigned long long>(b->id));
      std::fflush(stdout);
      ::raise(SIGKILL);
    }
    client.release(*b, stream.get());
  }
  client.close();  // the handles first; then the producer may free its buffers
  std::printf("consumer: received %lld batches, %lld bad\n", received, bad);
  return bad == 0 && (expect == 0 || received == expect) ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "consumer: %s\n", e.what());
  return 1;
}
