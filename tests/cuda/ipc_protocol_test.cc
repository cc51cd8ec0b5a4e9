// The CUDA IPC lease protocol without a GPU: descriptors travel over the
// socket, the producer tracks what is lent, and a consumer's end (clean or
// killed) gives everything back. Importing memory needs a GPU (ipc_gpu_test).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "base/error.h"
#include "cuda/ipc.h"

namespace ferry::cuda {
namespace {

using std::chrono::milliseconds;

std::string unique_name(const char* what) {
  return "@ferry-test-" + std::string(what) + "-" + std::to_string(::getpid());
}

IpcBufferDescriptor descriptor(uint64_t id) {
  IpcBufferDescriptor d;
  d.id = id;
  for (size_t i = 0; i < CUDA_IPC_HANDLE_SIZE; ++i) {
    d.memory.reserved[i] = static_cast<char>(i + id);
    d.ready.reserved[i] = static_cast<char>(200 - i);
  }
  d.offset = 4096 * id;
  d.bytes = 1 << 20;
  d.device = 3;
  d.device_uuid = {'g', 'p', 'u', '-', 'u', 'u', 'i', 'd', '-', '0', '1', '2', '3', '4', '5', '6'};
  d.dtype = DType::kBFloat16;
  d.ndim = 4;
  d.shape = {256, 3, 224, 224};
  return d;
}

TEST(IpcDescriptor, SurvivesSerialization) {
  const auto d = descriptor(7);
  const auto bytes = d.serialize();
  const auto e = IpcBufferDescriptor::deserialize(bytes);
  EXPECT_EQ(e.id, 7u);
  EXPECT_EQ(std::memcmp(e.memory.reserved, d.memory.reserved, CUDA_IPC_HANDLE_SIZE), 0);
  EXPECT_EQ(std::memcmp(e.ready.reserved, d.ready.reserved, CUDA_IPC_HANDLE_SIZE), 0);
  EXPECT_EQ(e.offset, d.offset);
  EXPECT_EQ(e.bytes, d.bytes);
  EXPECT_EQ(e.device, 3);
  EXPECT_EQ(e.device_uuid, d.device_uuid);
  EXPECT_EQ(e.dtype, DType::kBFloat16);
  EXPECT_EQ(e.ndim, 4);
  EXPECT_EQ(e.shape, d.shape);
}

TEST(IpcDescriptor, GarbageIsRejected) {
  auto bytes = descriptor(1).serialize();
  EXPECT_THROW(IpcBufferDescriptor::deserialize(std::span(bytes).first(10)), Error);
  bytes[0] = std::byte{0};
  EXPECT_THROW(IpcBufferDescriptor::deserialize(bytes), Error);
}

TEST(IpcProtocol, ConsumerReturnsLeasesAndClosingReturnsTheRest) {
  IpcServer server(unique_name("leases"));
  IpcClient client(server.name(), milliseconds(2000));
  auto conn = server.accept(milliseconds(2000));
  ASSERT_TRUE(conn.has_value());
  for (uint64_t id : {1, 2, 3}) ASSERT_TRUE(conn->send(descriptor(id)));
  EXPECT_EQ(conn->outstanding().size(), 3u);
  for (uint64_t id : {1, 2, 3}) {
    auto d = client.receive_descriptor(milliseconds(2000));
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->id, id);
    EXPECT_EQ(d->shape, descriptor(id).shape);
  }
  ASSERT_TRUE(client.release_id(2));
  auto back = conn->collect_returns(milliseconds(2000));
  EXPECT_EQ(back, std::vector<uint64_t>{2});
  EXPECT_TRUE(conn->connected());
  // Lent again after its return: allowed.
  ASSERT_TRUE(conn->send(descriptor(2)));
  client.close();  // as if the consumer exited
  back = conn->collect_returns(milliseconds(2000));
  std::sort(back.begin(), back.end());
  EXPECT_EQ(back, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_FALSE(conn->connected());
  EXPECT_TRUE(conn->outstanding().empty());
  EXPECT_FALSE(conn->send(descriptor(4)));
  EXPECT_TRUE(conn->outstanding().empty()) << "a buffer sent to nobody is not lent";
}

TEST(IpcProtocol, FinishWaitsUntilTheConsumerHasClosedItsHandles) {
  IpcServer server(unique_name("finish"));
  IpcClient client(server.name(), milliseconds(2000));
  auto conn = server.accept(milliseconds(2000));
  ASSERT_TRUE(conn.has_value());
  ASSERT_TRUE(conn->send(descriptor(1)));
  ASSERT_TRUE(client.receive_descriptor(milliseconds(2000)).has_value());
  // Still holding its handles: the producer must not free yet.
  auto early = conn->finish(milliseconds(100));
  EXPECT_FALSE(early.handles_closed);
  EXPECT_TRUE(early.returned.empty());
  // The half-close reached the consumer as the end of the stream.
  EXPECT_FALSE(client.receive_descriptor(milliseconds(2000)).has_value());
  client.close();
  auto done = conn->finish(milliseconds(2000));
  EXPECT_TRUE(done.handles_closed);
  EXPECT_EQ(done.returned, std::vector<uint64_t>{1});
  EXPECT_FALSE(conn->connected());
  EXPECT_TRUE(conn->outstanding().empty());
}

TEST(IpcProtocol, FinishAfterAKilledConsumerWaitsForItsProcessToEnd) {
  IpcServer server(unique_name("finish-killed"));
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    try {
      IpcClient client(server.name(), milliseconds(5000));
      if (client.receive_descriptor(milliseconds(5000))) ::raise(SIGKILL);  // handles die with the process
    } catch (...) {
    }
    ::_exit(3);
  }
  auto conn = server.accept(milliseconds(5000));
  ASSERT_TRUE(conn.has_value());
  ASSERT_TRUE(conn->send(descriptor(20)));
  auto done = conn->finish(milliseconds(10000));
  EXPECT_TRUE(done.handles_closed);
  EXPECT_EQ(done.returned, std::vector<uint64_t>{20});
  // Ended (a zombie until reaped here), not merely disconnected.
  int status = 0;
  EXPECT_EQ(::waitpid(child, &status, WNOHANG), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;
}

TEST(IpcProtocol, LendingABufferTwiceIsRefused) {
  IpcServer server(unique_name("twice"));
  IpcClient client(server.name(), milliseconds(2000));
  auto conn = server.accept(milliseconds(2000));
  ASSERT_TRUE(conn.has_value());
  ASSERT_TRUE(conn->send(descriptor(5)));
  EXPECT_THROW(conn->send(descriptor(5)), InvalidOption);
}

TEST(IpcProtocol, ReturningALeaseNotHeldIsAProtocolError) {
  IpcServer server(unique_name("stranger"));
  IpcClient client(server.name(), milliseconds(2000));
  auto conn = server.accept(milliseconds(2000));
  ASSERT_TRUE(conn.has_value());
  ASSERT_TRUE(client.release_id(42));
  EXPECT_THROW(conn->collect_returns(milliseconds(2000)), Error);
}

TEST(IpcProtocol, ConsumerSeesEndOfStreamWhenProducerCloses) {
  IpcServer server(unique_name("eos"));
  IpcClient client(server.name(), milliseconds(2000));
  {
    auto conn = server.accept(milliseconds(2000));
    ASSERT_TRUE(conn.has_value());
    ASSERT_TRUE(conn->send(descriptor(1)));
  }
  EXPECT_TRUE(client.receive_descriptor(milliseconds(2000)).has_value());
  EXPECT_FALSE(client.receive_descriptor(milliseconds(2000)).has_value());
}

TEST(IpcProtocol, WaitsAreBoundedByTheirTimeouts) {
  const std::string name = unique_name("timeouts");
  EXPECT_THROW(IpcClient(name, milliseconds(50)), Timeout);
  IpcServer server(name);
  EXPECT_FALSE(server.accept(milliseconds(20)).has_value());
  IpcClient client(name, milliseconds(2000));
  auto conn = server.accept(milliseconds(2000));
  ASSERT_TRUE(conn.has_value());
  EXPECT_THROW(client.receive_descriptor(milliseconds(20)), Timeout);
  EXPECT_TRUE(conn->collect_returns(milliseconds(20)).empty());
}

TEST(IpcProtocol, FilesystemSocketIsRemovedAndAStaleOneReplaced) {
  const std::string path = ::testing::TempDir() + "ferry-ipc-" + std::to_string(::getpid()) + ".sock";
  { IpcServer first(path); }
  EXPECT_NE(::access(path.c_str(), F_OK), 0) << "socket file left behind";
  {
    // A server that died without cleaning up leaves its socket file.
    const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ::close(fd);
    ASSERT_EQ(::access(path.c_str(), F_OK), 0);
  }
  IpcServer second(path);
  EXPECT_THROW(IpcServer third(path), SystemError);  // a live server is not replaced
}

// The producer keeps buffers lent to a consumer process that is then killed
// with SIGKILL while holding them: every one comes back on EOF.
TEST(IpcProtocol, KilledConsumerProcessGivesEverythingBack) {
  IpcServer server(unique_name("killed"));
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Child: no CUDA here, only the socket.
    try {
      IpcClient client(server.name(), milliseconds(5000));
      auto first = client.receive_descriptor(milliseconds(5000));
      auto second = client.receive_descriptor(milliseconds(5000));
      auto third = client.receive_descriptor(milliseconds(5000));
      if (first && second && third) client.release_id(first->id);
      ::raise(SIGKILL);  // mid-batch: still holding the other two, never returning them
    } catch (...) {
    }
    ::_exit(3);
  }
  auto conn = server.accept(milliseconds(5000));
  ASSERT_TRUE(conn.has_value());
  ASSERT_TRUE(conn->send(descriptor(10)));
  ASSERT_TRUE(conn->send(descriptor(11)));
  ASSERT_TRUE(conn->send(descriptor(12)));
  std::vector<uint64_t> back;
  for (int i = 0; i < 100 && conn->connected(); ++i) {
    auto got = conn->collect_returns(milliseconds(100));
    back.insert(back.end(), got.begin(), got.end());
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;
  EXPECT_FALSE(conn->connected());
  std::sort(back.begin(), back.end());
  EXPECT_EQ(back, (std::vector<uint64_t>{10, 11, 12}));
  EXPECT_TRUE(conn->outstanding().empty());
}

}  // namespace
}  // namespace ferry::cuda
