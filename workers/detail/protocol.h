#pragma once
// The protocol on a worker's channel, defined once: one struct per message,
// its encoding and decoding side by side (protocol.cpp).
//
//   main -> worker:  Setup (spawned workers only, with the arena fd), Task, Shutdown
//   worker -> main:  Ready or StartFailed once, then Done or Failed per task
//
// A message is its MsgType (u32) followed by the fields in declaration order.
// Messages of any size travel: Channel moves a large one out of line.
#include <sys/types.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/byte_io.h"
#include "trace/trace.h"

namespace ferry::workers::detail {

enum class MsgType : uint32_t { kTask = 1, kShutdown, kReady, kStartFailed, kDone, kFailed, kSetup };

struct TaskMsg {
  static constexpr MsgType kType = MsgType::kTask;
  uint64_t task_id = 0;
  uint64_t epoch = 0;
  int32_t slot = -1;  // -1: no free slot; the worker makes a one-off segment
  std::vector<int64_t> items;
  void encode_to(ByteWriter& w) const;
  static TaskMsg decode_from(ByteReader& r);
};

struct ShutdownMsg {
  static constexpr MsgType kType = MsgType::kShutdown;
  void encode_to(ByteWriter&) const {}
  static ShutdownMsg decode_from(ByteReader&) { return {}; }
};

// What a spawned worker needs to become one; a forked worker has it in memory.
struct SetupMsg {
  static constexpr MsgType kType = MsgType::kSetup;
  int32_t worker_id = 0;
  int32_t parent_pid = 0;
  std::string name;
  uint64_t slot_bytes = 0;
  int32_t num_slots = 0;
  bool named_segments = false;
  bool trace_recording = false;  // a forked worker inherits it; a spawned one is told
  std::vector<std::byte> payload;
  void encode_to(ByteWriter& w) const;
  static SetupMsg decode_from(ByteReader& r);
};

struct ReadyMsg {
  static constexpr MsgType kType = MsgType::kReady;
  int32_t pid = 0;
  void encode_to(ByteWriter& w) const;
  static ReadyMsg decode_from(ByteReader& r);
};

struct StartFailedMsg {
  static constexpr MsgType kType = MsgType::kStartFailed;
  std::string message;
  void encode_to(ByteWriter& w) const;
  static StartFailedMsg decode_from(ByteReader& r);
};

// Stage totals and trace events ride along with every result.
struct WorkerTrace {
  trace::StageTotals totals;
  std::vector<trace::Event> events;
};

struct DoneMsg {
  static constexpr MsgType kType = MsgType::kDone;
  uint64_t task_id = 0;
  int32_t slot = -1;               // -1: in a one-off segment (fd attached, or named), or none
  uint64_t one_off_bytes = 0;      // its size; 0 with slot -1: an empty output (no memory)
  std::string one_off_name;        // file_system sharing: its /dev/shm name
  std::vector<std::byte> payload;  // the producer's description of the output
  WorkerTrace trace;
  void encode_to(ByteWriter& w) const;
  static DoneMsg decode_from(ByteReader& r);
};

struct FailedMsg {
  static constexpr MsgType kType = MsgType::kFailed;
  uint64_t task_id = 0;
  int64_t item = -1;  // -1: not known
  std::string message;
  WorkerTrace trace;
  void encode_to(ByteWriter& w) const;
  static FailedMsg decode_from(ByteReader& r);
};

// The message's bytes in `w` (cleared first, capacity kept).
template <class Msg>
std::span<const std::byte> encode(const Msg& msg, ByteWriter& w) {
  w.clear();
  w.put(Msg::kType);
  msg.encode_to(w);
  return w.buffer();
}

// The type of a received message; the reader is left at its first field.
MsgType read_type(ByteReader& r);

// Decodes the rest of a message whose type has been read.
template <class Msg>
Msg decode(ByteReader& r) {
  Msg m = Msg::decode_from(r);
  if (!r.done()) throw ProtocolError("ferry: malformed message (bytes after the last field)");
  return m;
}

}  // namespace ferry::workers::detail
