#include "workers/detail/protocol.h"

namespace ferry::workers::detail {
namespace {

void put_trace(ByteWriter& w, const WorkerTrace& t) {
  w.put(t.totals);
  w.put_vector<trace::Event>(t.events);
}

WorkerTrace get_trace(ByteReader& r) {
  WorkerTrace t;
  t.totals = r.get<trace::StageTotals>();
  t.events = r.get_vector<trace::Event>();
  return t;
}

}  // namespace

MsgType read_type(ByteReader& r) {
  const auto type = r.get<MsgType>();
  if (type < MsgType::kTask || type > MsgType::kSetup)
    throw ProtocolError("ferry: malformed message (unknown type " + std::to_string(uint32_t(type)) + ")");
  return type;
}

void TaskMsg::encode_to(ByteWriter& w) const {
  w.put(task_id);
  w.put(epoch);
  w.put(slot);
  w.put_vector<int64_t>(items);
}

TaskMsg TaskMsg::decode_from(ByteReader& r) {
  TaskMsg m;
  m.task_id = r.get<uint64_t>();
  m.epoch = r.get<uint64_t>();
  m.slot = r.get<int32_t>();
  m.items = r.get_vector<int64_t>();
  return m;
}

void SetupMsg::encode_to(ByteWriter& w) const {
  w.put(worker_id);
  w.put(parent_pid);
  w.put_string(name);
  w.put(slot_bytes);
  w.put(num_slots);
  w.put(named_segments);
  w.put(trace_recording);
  w.put_bytes(payload);
}

SetupMsg SetupMsg::decode_from(ByteReader& r) {
  SetupMsg m;
  m.worker_id = r.get<int32_t>();
  m.parent_pid = r.get<int32_t>();
  m.name = r.get_string();
  m.slot_bytes = r.get<uint64_t>();
  m.num_slots = r.get<int32_t>();
  m.named_segments = r.get<bool>();
  m.trace_recording = r.get<bool>();
  const auto payload = r.get_bytes();
  m.payload.assign(payload.begin(), payload.end());
  return m;
}

void ReadyMsg::encode_to(ByteWriter& w) const { w.put(pid); }

ReadyMsg ReadyMsg::decode_from(ByteReader& r) { return {r.get<int32_t>()}; }

void StartFailedMsg::encode_to(ByteWriter& w) const { w.put_string(message); }

StartFailedMsg StartFailedMsg::decode_from(ByteReader& r) { return {r.get_string()}; }

void DoneMsg::encode_to(ByteWriter& w) const {
  w.put(task_id);
  w.put(slot);
  w.put(one_off_bytes);
  w.put_string(one_off_name);
  w.put_bytes(payload);
  put_trace(w, trace);
}

DoneMsg DoneMsg::decode_from(ByteReader& r) {
  DoneMsg m;
  m.task_id = r.get<uint64_t>();
  m.slot = r.get<int32_t>();
  m.one_off_bytes = r.get<uint64_t>();
  m.one_off_name = r.get_string();
  const auto payload = r.get_bytes();
  m.payload.assign(payload.begin(), payload.end());
  m.trace = get_trace(r);
  return m;
}

void FailedMsg::encode_to(ByteWriter& w) const {
  w.put(task_id);
  w.put(item);
  w.put_string(message);
  put_trace(w, trace);
}

FailedMsg FailedMsg::decode_from(ByteReader& r) {
  FailedMsg m;
  m.task_id = r.get<uint64_t>();
  m.item = r.get<int64_t>();
  m.message = r.get_string();
  m.trace = get_trace(r);
  return m;
}

}  // namespace ferry::workers::detail
