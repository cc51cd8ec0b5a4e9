#pragma once
/// CUDA IPC hand-off of device buffers to another process on the same GPU,
/// over an AF_UNIX/SOCK_SEQPACKET socket. The rule is PyTorch's:
///
///  - the producer keeps a buffer alive and never reuses it until the consumer
///    has returned it (IpcConnection refuses to lend a buffer twice);
///  - the consumer returns it as soon as its GPU work on it is done
///    (IpcClient::release waits for that work, then tells the producer);
///  - if the consumer dies, the producer gets everything back on socket EOF.
///
/// Producer:
///   cuda::IpcServer server("@ferry-demo");
///   auto conn = server.accept(std::chrono::seconds(30));
///   auto d = cuda::export_buffer(pool.buffer(i).data, pool.ready_event(i), /*device=*/0);
///   d.id = i; d.bytes = n; ...   fill on stream s, cudaEventRecord(pool.ready_event(i), s)
///   conn->send(d);
///   for (uint64_t id : conn->collect_returns(timeout)) pool.release(pool.buffer(id), nullptr);
///   conn->finish(timeout);   // end of stream; the consumer closes its handles
///   // only now free the buffers (cudaFree of memory still open elsewhere is undefined)
/// Consumer:
///   cuda::IpcClient client("@ferry-demo", std::chrono::seconds(30));
///   while (auto b = client.receive(std::chrono::seconds(30))) {
///     b->wait_on(my_stream); train(b->data, my_stream); client.release(*b, my_stream);
///   }
///   client.close();          // closes every imported handle, then tells the producer
#include <cuda_runtime_api.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "base/dtype.h"
#include "base/unique_fd.h"

namespace ferry::cuda {

/// One exported device buffer: everything a consumer needs to map it and to
/// wait for its contents. Fixed-size and serializable; the handles are valid
/// on the producer's host only.
struct IpcBufferDescriptor {
  static constexpr size_t kMaxDims = 8;
  static constexpr size_t kSerializedSize = 244;

  uint64_t id = 0;                        ///< producer's lease id; the consumer returns it
  cudaIpcMemHandle_t memory{};            ///< the cudaMalloc allocation holding the buffer
  cudaIpcEventHandle_t ready{};           ///< completes when the buffer is filled
  uint64_t offset = 0;                    ///< buffer start, in bytes from the allocation's start
  uint64_t bytes = 0;                     ///< buffer length
  int32_t device = 0;                     ///< producer's device ordinal (a hint; the UUID decides)
  std::array<char, 16> device_uuid{};     ///< the GPU, as cudaDeviceProp::uuid
  DType dtype = DType::kUInt8;            ///< element type of the tensor in the buffer
  uint8_t ndim = 0;                       ///< number of valid entries in `shape`
  std::array<int64_t, kMaxDims> shape{};  ///< tensor shape, outermost first

  std::array<std::byte, kSerializedSize> serialize() const;
  /// Throws ferry::Error for a wrong size, magic or version.
  static IpcBufferDescriptor deserialize(std::span<const std::byte> bytes);
};

/// A descriptor for `allocation_base` (a pointer cudaMalloc returned) with the
/// handles and the device filled in; the caller sets id, offset, bytes, dtype
/// and shape. `ready_event` must be created with cudaEventInterprocess |
/// cudaEventDisableTiming (DeviceBufferPool with interprocess_events = true).
IpcBufferDescriptor export_buffer(void* allocation_base, cudaEvent_t ready_event, int device);

/// Listens on a socket name ('@name': abstract namespace; else a path, removed
/// again by the destructor).
class IpcServer {
 public:
  explicit IpcServer(std::string name);
  ~IpcServer();
  IpcServer(const IpcServer&) = delete;
  IpcServer& operator=(const IpcServer&) = delete;

  const std::string& name() const noexcept { return name_; }
  class Connection;
  /// Waits up to `timeout` for one consumer; nullopt when none came.
  std::optional<Connection> accept(std::chrono::milliseconds timeout);

 private:
  std::string name_;
  UniqueFd listen_;
};

/// The producer's end of one consumer: lends buffers, takes them back. Use it
/// from one thread at a time.
class IpcServer::Connection {
 public:
  /// Over a connected socket; notes the peer process (SO_PEERCRED) to know
  /// when it has ended.
  explicit Connection(UniqueFd fd);

  /// Lends the buffer `d` describes (its filling work already recorded on its
  /// ready event). Throws ferry::InvalidOption when `d.id` is still lent out.
  /// Returns false when the consumer has gone: then this buffer was not lent
  /// (the caller still owns it) and collect_returns() gives back everything
  /// the consumer held.
  bool send(const IpcBufferDescriptor& d);
  /// Ids the consumer returned, waiting up to `timeout` for the first (zero:
  /// only what has arrived). On EOF (the consumer exited or was killed) every
  /// id it still held is returned too and connected() turns false.
  std::vector<uint64_t> collect_returns(std::chrono::milliseconds timeout);

  bool connected() const noexcept { return connected_; }
  /// Ids lent and not yet returned.
  const std::set<uint64_t>& outstanding() const noexcept { return outstanding_; }
  /// The socket, for a caller's poll/epoll loop (readable: returns or EOF).
  int fd() const noexcept { return fd_.get(); }

  struct Finished {
    bool handles_closed = false;     ///< the consumer holds no handle: the buffers may be freed
    std::vector<uint64_t> returned;  ///< ids that came back meanwhile (all outstanding ones when closed)
  };
  /// Ends the stream before the buffers are freed: half-closes (the consumer's
  /// receive() sees the end), then waits up to `timeout` until the consumer has
  /// closed every imported handle (IpcClient::close() says so) or, when it
  /// died, until its process has ended. `handles_closed` false: the consumer
  /// still holds handles; freeing the buffers now is undefined behaviour.
  Finished finish(std::chrono::milliseconds timeout);

 private:
  bool peer_gone_within(std::chrono::milliseconds timeout) const;

  UniqueFd fd_;
  UniqueFd peer_;  // pidfd of the consumer process (invalid when unknown)
  std::set<uint64_t> outstanding_;
  bool connected_ = true;
  bool handles_closed_ = false;  // the consumer said so before disconnecting
};

/// A buffer the consumer holds, mapped into its address space. Valid until
/// released; do not free it.
struct ImportedBuffer {
  uint64_t id = 0;
  void* data = nullptr;  ///< device pointer (offset applied)
  size_t bytes = 0;
  cudaEvent_t ready = nullptr;  ///< the producer's ready event, opened here
  int device = 0;               ///< local device ordinal the buffer lives on
  DType dtype = DType::kUInt8;
  std::vector<int64_t> shape;

  /// Makes `stream` wait (on the GPU) until the producer has filled the buffer.
  void wait_on(cudaStream_t stream) const;
};

/// The consumer's end. Imported memory and events are opened once per
/// producer buffer and kept until the client is destroyed, as the producer
/// lends the same buffers again and again. Use it from one thread at a time.
class IpcClient {
 public:
  /// Connects to `name`, retrying up to `timeout` while nobody listens
  /// (ferry::Timeout then).
  IpcClient(const std::string& name, std::chrono::milliseconds timeout);
  /// close().
  ~IpcClient();
  IpcClient(const IpcClient&) = delete;
  IpcClient& operator=(const IpcClient&) = delete;

  /// The next descriptor, or nullopt once the producer has ended the stream
  /// (Connection::finish, or its exit); then close().
  /// Throws ferry::Timeout after `timeout`. No CUDA call is made.
  std::optional<IpcBufferDescriptor> receive_descriptor(std::chrono::milliseconds timeout);
  /// receive_descriptor() and import it (cudaIpcOpenMemHandle, cached).
  std::optional<ImportedBuffer> receive(std::chrono::milliseconds timeout);

  /// Waits (on the host) for the work queued so far on `consumer_stream`, then
  /// returns the buffer to the producer: after this the producer may
  /// overwrite it.
  void release(const ImportedBuffer& buffer, cudaStream_t consumer_stream);
  /// Returns lease `id` right away; the caller guarantees no GPU work on the
  /// buffer is pending. Returns false when the producer has gone.
  bool release_id(uint64_t id);

  /// Closes every imported handle (every ImportedBuffer is invalid after
  /// this), tells the producer so, and closes the connection: the producer
  /// takes back every buffer still held and may free them. Idempotent.
  void close() noexcept;
  int fd() const noexcept { return fd_.get(); }

 private:
  int local_device(const IpcBufferDescriptor& d);
  void close_handles() noexcept;

  UniqueFd fd_;
  std::map<std::array<char, CUDA_IPC_HANDLE_SIZE>, std::pair<void*, int>> memory_;  // handle -> (base, device)
  std::map<std::array<char, CUDA_IPC_HANDLE_SIZE>, cudaEvent_t> events_;
  std::map<std::array<char, 16>, int> devices_;  // UUID -> local ordinal
  cudaEvent_t release_event_ = nullptr;          // created on first release()
  int release_event_device_ = -1;
};

}  // namespace ferry::cuda
