#include "cuda/ipc.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "base/error.h"
#include "cuda/detail/seqpacket.h"
#include "cuda/runtime.h"
#include "trace/trace.h"

namespace ferry::cuda {
namespace {

constexpr uint32_t kDescriptorMagic = 0x44595246;  // "FRYD"
constexpr uint16_t kDescriptorVersion = 1;
constexpr uint32_t kMessageMagic = 0x4d595246;  // "FRYM"
constexpr uint16_t kMessageVersion = 2;
// kLease: producer -> consumer, a descriptor. kReturn: consumer -> producer, a
// lease id. kClosed: consumer -> producer, every imported handle is closed.
enum class MessageType : uint16_t { kLease = 1, kReturn = 2, kClosed = 3 };
constexpr size_t kHeaderSize = 8;
constexpr size_t kMaxMessage = kHeaderSize + IpcBufferDescriptor::kSerializedSize;

constexpr size_t message_size(MessageType type) {
  switch (type) {
    case MessageType::kLease:
      return kMaxMessage;
    case MessageType::kReturn:
      return kHeaderSize + sizeof(uint64_t);
    case MessageType::kClosed:
      return kHeaderSize;
  }
  return 0;
}

class Writer {
 public:
  explicit Writer(std::byte* out) : out_(out) {}
  template <typename T>
  void put(const T& v) {
    std::memcpy(out_ + pos_, &v, sizeof v);
    pos_ += sizeof v;
  }
  size_t size() const { return pos_; }

 private:
  std::byte* out_;
  size_t pos_ = 0;
};

class Reader {
 public:
  explicit Reader(std::span<const std::byte> in) : in_(in) {}
  template <typename T>
  T get() {
    T v;
    std::memcpy(&v, in_.data() + pos_, sizeof v);
    pos_ += sizeof v;
    return v;
  }

 private:
  std::span<const std::byte> in_;
  size_t pos_ = 0;
};

void put_header(Writer& w, MessageType type) {
  w.put(kMessageMagic);
  w.put(kMessageVersion);
  w.put(static_cast<uint16_t>(type));
}

// The type of a received message, one of `a` or `b`, after checking its
// header and its size.
MessageType read_header(std::span<const std::byte> message, MessageType a, MessageType b) {
  if (message.size() < kHeaderSize)
    throw Error("CUDA IPC: short message (" + std::to_string(message.size()) + " bytes)");
  Reader r(message);
  const auto magic = r.get<uint32_t>();
  const auto version = r.get<uint16_t>();
  const auto type = static_cast<MessageType>(r.get<uint16_t>());
  if (magic != kMessageMagic || version != kMessageVersion) {
    throw Error("CUDA IPC: message from a peer that is not a ferry process of this version");
  }
  if ((type != a && type != b) || message.size() != message_size(type)) {
    throw Error("CUDA IPC: unexpected message (type " + std::to_string(static_cast<int>(type)) + ", " +
                std::to_string(message.size()) + " bytes)");
  }
  return type;
}

int to_timeout_ms(std::chrono::milliseconds t) {
  if (t.count() < 0) return -1;
  return static_cast<int>(std::min<int64_t>(t.count(), INT32_MAX));
}

template <size_t N>
std::array<char, N> key_of(const char (&bytes)[N]) {
  std::array<char, N> k;
  std::memcpy(k.data(), bytes, N);
  return k;
}

}  // namespace

// ---- IpcBufferDescriptor ----

std::array<std::byte, IpcBufferDescriptor::kSerializedSize> IpcBufferDescriptor::serialize() const {
  std::array<std::byte, kSerializedSize> out{};
  Writer w(out.data());
  w.put(kDescriptorMagic);
  w.put(kDescriptorVersion);
  w.put(static_cast<uint8_t>(dtype));
  w.put(ndim);
  w.put(id);
  w.put(offset);
  w.put(bytes);
  w.put(device);
  w.put(device_uuid);
  w.put(memory);
  w.put(ready);
  w.put(shape);
  static_assert(4 + 2 + 1 + 1 + 8 + 8 + 8 + 4 + 16 + 2 * CUDA_IPC_HANDLE_SIZE + 8 * kMaxDims == kSerializedSize);
  return out;
}

IpcBufferDescriptor IpcBufferDescriptor::deserialize(std::span<const std::byte> in) {
  if (in.size() != kSerializedSize) {
    throw Error("IpcBufferDescriptor: " + std::to_string(in.size()) + " bytes, expected " +
                std::to_string(kSerializedSize));
  }
  Reader r(in);
  if (r.get<uint32_t>() != kDescriptorMagic || r.get<uint16_t>() != kDescriptorVersion) {
    throw Error("IpcBufferDescriptor: bad magic or version (not from this ferry version)");
  }
  IpcBufferDescriptor d;
  const auto dtype = r.get<uint8_t>();
  if (dtype > static_cast<uint8_t>(DType::kFloat32)) throw Error("IpcBufferDescriptor: unknown dtype");
  d.dtype = static_cast<DType>(dtype);
  d.ndim = r.get<uint8_t>();
  if (d.ndim > kMaxDims) throw Error("IpcBufferDescriptor: ndim " + std::to_string(d.ndim) + " > 8");
  d.id = r.get<uint64_t>();
  d.offset = r.get<uint64_t>();
  d.bytes = r.get<uint64_t>();
  d.device = r.get<int32_t>();
  d.device_uuid = r.get<std::array<char, 16>>();
  d.memory = r.get<cudaIpcMemHandle_t>();
  d.ready = r.get<cudaIpcEventHandle_t>();
  d.shape = r.get<std::array<int64_t, kMaxDims>>();
  return d;
}

IpcBufferDescriptor export_buffer(void* allocation_base, cudaEvent_t ready_event, int device) {
  ScopedDevice on(device);
  IpcBufferDescriptor d;
  d.device = device;
  FERRY_CUDA_CHECK(cudaIpcGetMemHandle(&d.memory, allocation_base));
  FERRY_CUDA_CHECK(cudaIpcGetEventHandle(&d.ready, ready_event));
  cudaDeviceProp prop{};
  FERRY_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  std::memcpy(d.device_uuid.data(), prop.uuid.bytes, d.device_uuid.size());
  return d;
}

// ---- IpcServer ----

IpcServer::IpcServer(std::string name) : name_(std::move(name)), listen_(detail::listen_seqpacket(name_)) {}

IpcServer::~IpcServer() {
  if (!name_.empty() && name_[0] != '@') ::unlink(name_.c_str());
}

std::optional<IpcServer::Connection> IpcServer::accept(std::chrono::milliseconds timeout) {
  UniqueFd fd = detail::accept_seqpacket(listen_.get(), to_timeout_ms(timeout));
  if (!fd) return std::nullopt;
  return Connection(std::move(fd));
}

IpcServer::Connection::Connection(UniqueFd fd) : fd_(std::move(fd)) {
  ucred peer{};
  socklen_t len = sizeof peer;
  if (::getsockopt(fd_.get(), SOL_SOCKET, SO_PEERCRED, &peer, &len) == 0 && peer.pid > 0) {
    // A pidfd becomes readable once the process has ended; absent (older
    // kernels) the end of the socket has to do.
    peer_.reset(static_cast<int>(::syscall(SYS_pidfd_open, peer.pid, 0)));
  }
}

bool IpcServer::Connection::peer_gone_within(std::chrono::milliseconds timeout) const {
  if (!peer_) return true;
  pollfd pfd{peer_.get(), POLLIN, 0};
  return ::poll(&pfd, 1, to_timeout_ms(timeout)) > 0;
}

IpcServer::Connection::Finished IpcServer::Connection::finish(std::chrono::milliseconds timeout) {
  Finished out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto left = [&] {
    return std::max(std::chrono::milliseconds(0),
                    std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()));
  };
  if (fd_) ::shutdown(fd_.get(), SHUT_WR);  // the consumer's receive() sees the end of the stream
  while (connected_ && left().count() > 0) {
    auto got = collect_returns(std::min(left(), std::chrono::milliseconds(100)));
    out.returned.insert(out.returned.end(), got.begin(), got.end());
  }
  // Disconnected without saying so: the consumer died, and its handles go
  // with its process, which may still be ending when its socket closes.
  out.handles_closed = handles_closed_ || (!connected_ && peer_gone_within(left()));
  return out;
}

bool IpcServer::Connection::send(const IpcBufferDescriptor& d) {
  if (!connected_) return false;
  if (outstanding_.count(d.id)) {
    throw InvalidOption("CUDA IPC: buffer " + std::to_string(d.id) +
                        " is still lent to the consumer; it may be sent again only after it was returned");
  }
  trace::ScopedStage stage(trace::Stage::kHandoff);
  std::array<std::byte, kMaxMessage> message;
  Writer w(message.data());
  put_header(w, MessageType::kLease);
  const auto body = d.serialize();
  std::memcpy(message.data() + kHeaderSize, body.data(), body.size());
  if (!detail::send_message(fd_.get(), message.data(), message.size())) {
    connected_ = false;  // not lent: the caller keeps the buffer
    return false;
  }
  outstanding_.insert(d.id);
  return true;
}

std::vector<uint64_t> IpcServer::Connection::collect_returns(std::chrono::milliseconds timeout) {
  std::vector<uint64_t> returned;
  if (!connected_) {
    returned.assign(outstanding_.begin(), outstanding_.end());
    outstanding_.clear();
    return returned;
  }
  int wait_ms = to_timeout_ms(timeout);
  std::array<std::byte, kMaxMessage> message;
  for (;;) {
    size_t n = 0;
    const auto got = detail::receive_message(fd_.get(), message.data(), message.size(), &n, wait_ms);
    if (got == detail::Received::kTimeout) break;
    if (got == detail::Received::kEof) {
      // The consumer exited or died: its mappings are gone with it, so every
      // buffer it held is ours again.
      connected_ = false;
      returned.insert(returned.end(), outstanding_.begin(), outstanding_.end());
      outstanding_.clear();
      fd_.reset();
      break;
    }
    const std::span<const std::byte> m(message.data(), n);
    if (read_header(m, MessageType::kReturn, MessageType::kClosed) == MessageType::kClosed) {
      // Every handle is closed on the other side: all its leases are back.
      handles_closed_ = true;
      connected_ = false;
      returned.insert(returned.end(), outstanding_.begin(), outstanding_.end());
      outstanding_.clear();
      fd_.reset();
      break;
    }
    uint64_t id;
    std::memcpy(&id, message.data() + kHeaderSize, sizeof id);
    if (outstanding_.erase(id) == 0) {
      throw Error("CUDA IPC: the consumer returned buffer " + std::to_string(id) + ", which it does not hold");
    }
    returned.push_back(id);
    wait_ms = 0;  // take whatever else has arrived, without waiting again
  }
  return returned;
}

// ---- ImportedBuffer / IpcClient ----

void ImportedBuffer::wait_on(cudaStream_t stream) const { FERRY_CUDA_CHECK(cudaStreamWaitEvent(stream, ready, 0)); }

IpcClient::IpcClient(const std::string& name, std::chrono::milliseconds timeout)
    : fd_(detail::connect_seqpacket(name, to_timeout_ms(timeout))) {}

IpcClient::~IpcClient() { close(); }

void IpcClient::close_handles() noexcept {
  for (auto& [key, event] : events_) warn_unless_ok(cudaEventDestroy(event), "cudaEventDestroy(imported)");
  events_.clear();
  int previous = -1;
  if (!memory_.empty() && cudaGetDevice(&previous) != cudaSuccess) previous = -1;
  for (auto& [key, mapping] : memory_) {
    if (cudaSetDevice(mapping.second) == cudaSuccess) {
      warn_unless_ok(cudaIpcCloseMemHandle(mapping.first), "cudaIpcCloseMemHandle");
    }
  }
  memory_.clear();
  if (previous >= 0) (void)cudaSetDevice(previous);
  if (release_event_) warn_unless_ok(cudaEventDestroy(release_event_), "cudaEventDestroy");
  release_event_ = nullptr;
}

void IpcClient::close() noexcept {
  // Handles first: once told, the producer frees the memory behind them.
  close_handles();
  if (!fd_) return;
  std::array<std::byte, message_size(MessageType::kClosed)> message;
  Writer w(message.data());
  put_header(w, MessageType::kClosed);
  (void)detail::send_message(fd_.get(), message.data(), message.size());
  fd_.reset();
}

std::optional<IpcBufferDescriptor> IpcClient::receive_descriptor(std::chrono::milliseconds timeout) {
  if (!fd_) return std::nullopt;
  std::array<std::byte, kMaxMessage> message;
  size_t n = 0;
  const auto got = detail::receive_message(fd_.get(), message.data(), message.size(), &n, to_timeout_ms(timeout));
  if (got == detail::Received::kTimeout) {
    throw Timeout("CUDA IPC: no batch from the producer within " + std::to_string(timeout.count()) + " ms");
  }
  // The end of the stream; the socket stays open so that close() can still
  // tell the producer when the handles are closed.
  if (got == detail::Received::kEof) return std::nullopt;
  const std::span<const std::byte> m(message.data(), n);
  read_header(m, MessageType::kLease, MessageType::kLease);
  return IpcBufferDescriptor::deserialize(m.subspan(kHeaderSize));
}

int IpcClient::local_device(const IpcBufferDescriptor& d) {
  if (auto it = devices_.find(d.device_uuid); it != devices_.end()) return it->second;
  int count = 0;
  FERRY_CUDA_CHECK(cudaGetDeviceCount(&count));
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    FERRY_CUDA_CHECK(cudaGetDeviceProperties(&prop, i));
    if (std::memcmp(prop.uuid.bytes, d.device_uuid.data(), d.device_uuid.size()) == 0) {
      devices_.emplace(d.device_uuid, i);
      return i;
    }
  }
  throw Error("CUDA IPC: the producer's GPU (its device " + std::to_string(d.device) +
              ") is not visible to this process; check CUDA_VISIBLE_DEVICES");
}

std::optional<ImportedBuffer> IpcClient::receive(std::chrono::milliseconds timeout) {
  auto d = receive_descriptor(timeout);
  if (!d) return std::nullopt;
  trace::ScopedStage stage(trace::Stage::kHandoff);
  const int device = local_device(*d);
  ScopedDevice on(device);
  const auto mem_key = key_of(d->memory.reserved);
  auto mem = memory_.find(mem_key);
  if (mem == memory_.end()) {
    void* base = nullptr;
    FERRY_CUDA_CHECK(cudaIpcOpenMemHandle(&base, d->memory, cudaIpcMemLazyEnablePeerAccess));
    mem = memory_.emplace(mem_key, std::make_pair(base, device)).first;
  }
  const auto event_key = key_of(d->ready.reserved);
  auto ev = events_.find(event_key);
  if (ev == events_.end()) {
    cudaEvent_t event = nullptr;
    FERRY_CUDA_CHECK(cudaIpcOpenEventHandle(&event, d->ready));
    ev = events_.emplace(event_key, event).first;
  }
  ImportedBuffer b;
  b.id = d->id;
  b.data = static_cast<char*>(mem->second.first) + d->offset;
  b.bytes = d->bytes;
  b.ready = ev->second;
  b.device = device;
  b.dtype = d->dtype;
  b.shape.assign(d->shape.begin(), d->shape.begin() + d->ndim);
  return b;
}

void IpcClient::release(const ImportedBuffer& buffer, cudaStream_t consumer_stream) {
  {
    ScopedDevice on(buffer.device);
    if (release_event_ == nullptr || release_event_device_ != buffer.device) {
      if (release_event_) warn_unless_ok(cudaEventDestroy(release_event_), "cudaEventDestroy");
      release_event_ = nullptr;
      FERRY_CUDA_CHECK(cudaEventCreateWithFlags(&release_event_, cudaEventDisableTiming | cudaEventBlockingSync));
      release_event_device_ = buffer.device;
    }
    // PyTorch's rule: the producer may overwrite the buffer as soon as it is
    // back, so the work reading it must be finished first.
    FERRY_CUDA_CHECK(cudaEventRecord(release_event_, consumer_stream));
    FERRY_CUDA_CHECK(cudaEventSynchronize(release_event_));
  }
  release_id(buffer.id);
}

bool IpcClient::release_id(uint64_t id) {
  if (!fd_) return false;
  std::array<std::byte, message_size(MessageType::kReturn)> message;
  Writer w(message.data());
  put_header(w, MessageType::kReturn);
  w.put(id);
  return detail::send_message(fd_.get(), message.data(), message.size());
}

}  // namespace ferry::cuda
