// Channel: messages of any size, fds riding along, and what the kernel drops.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <numeric>
#include <thread>
#include <vector>

#include "tests/support/test_conditions.h"
#include "workers/channel.h"

namespace ferry::workers {
namespace {

std::vector<std::byte> pattern(size_t n) {
  std::vector<std::byte> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = std::byte(uint8_t(i * 131 + 7));
  return v;
}

int pipe_fd_with(const char* text) {
  int p[2];
  EXPECT_EQ(pipe(p), 0);
  EXPECT_EQ(write(p[1], text, std::strlen(text)), ssize_t(std::strlen(text)));
  close(p[1]);
  return p[0];
}

std::string read_all(int fd) {
  char buf[64] = {};
  const ssize_t n = read(fd, buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, size_t(n)) : std::string();
}

TEST(Channel, MessagesOfAnySizeArriveWholeWithTheirFd) {
  auto [a, b] = Channel::make_pair();
  ASSERT_GE(a.inline_limit(), 4096u);
  for (size_t size : {size_t(1), a.inline_limit(), a.inline_limit() + 1, size_t(5) << 20}) {
    const std::vector<std::byte> sent = pattern(size);
    const int fd = pipe_fd_with("hello");
    // A sender of a large message must not need the reader to be there yet.
    std::thread sender([&] { EXPECT_TRUE(a.send(sent, fd)); });
    Channel::Received in = b.receive();
    sender.join();
    close(fd);
    ASSERT_EQ(in.status, Channel::Received::Status::kMessage) << size;
    EXPECT_FALSE(in.fd_lost);
    ASSERT_EQ(in.message.size(), size);
    EXPECT_EQ(std::memcmp(in.message.data(), sent.data(), size), 0) << size;
    ASSERT_TRUE(in.fd.valid()) << size;
    EXPECT_EQ(read_all(in.fd.get()), "hello");
  }
}

TEST(Channel, ASmallSocketBufferOnlyLowersTheInlineLimit) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
  const int small = 8192;  // the kernel doubles it
  setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  Channel a{UniqueFd(fds[0])}, b{UniqueFd(fds[1])};
  EXPECT_LT(a.inline_limit(), Channel::kMaxInline);
  const std::vector<std::byte> sent = pattern(300 << 10);
  std::thread sender([&] { EXPECT_TRUE(a.send(sent)); });
  Channel::Received in = b.receive();
  sender.join();
  ASSERT_EQ(in.status, Channel::Received::Status::kMessage);
  EXPECT_EQ(std::vector<std::byte>(in.message.begin(), in.message.end()), sent);
}

TEST(Channel, EndOfFileWhenThePeerCloses) {
  auto [a, b] = Channel::make_pair();
  EXPECT_EQ(b.receive(/*nonblocking=*/true).status, Channel::Received::Status::kWouldBlock);
  a.close();
  EXPECT_EQ(b.receive().status, Channel::Received::Status::kEof);
  EXPECT_FALSE(b.send(pattern(10))) << "a send to a closed peer reports it instead of raising SIGPIPE";
}

TEST(Channel, AnFdTheKernelDropsAtTheOpenFileLimitIsReportedNotIgnored) {
  using testing::AtOpenFileLimit;
  auto [a, b] = Channel::make_pair();
  const int fd = pipe_fd_with("x");
  {
    AtOpenFileLimit full;
    ASSERT_TRUE(a.send(pattern(100), fd));
    Channel::Received in = b.receive();
    EXPECT_EQ(in.status, Channel::Received::Status::kMessage);
    EXPECT_EQ(in.message.size(), 100u) << "the message itself arrives";
    EXPECT_TRUE(in.fd_lost);
    EXPECT_FALSE(in.fd.valid());

    // A large message travels in a memfd: when that is dropped, the message is lost.
    const std::vector<std::byte> big = pattern(a.inline_limit() + 1);
    full.free_one();  // the sender's memfd, closed once sent
    ASSERT_TRUE(a.send(big));
    full.fill();
    Channel::Received lost = b.receive();
    EXPECT_EQ(lost.status, Channel::Received::Status::kLost);
    EXPECT_TRUE(lost.fd_lost);
  }
  close(fd);
}

}  // namespace
}  // namespace ferry::workers
