// Fuzzes the Raft message decoder and the core behind it. The first byte picks the target:
//   0  decode_raft_message: a decoded message re-encodes to bytes that decode to the same
//      message (decode -> encode -> decode is stable), and never asserts;
//   1  RaftCore::on_message on one long-lived core (server 1 of 3) fed decoded messages, with its
//      Readies performed on a MemStorage: untrusted messages must never trip an assert in the
//      core (they are counted as invalid or stale instead).
//   2  as 1, with the core's ReadIndex, leadership-transfer and membership paths (§6.4, §3.10,
//      chapter 4) exercised around the message: the byte after the selector picks
//      read_index(), transfer_leadership() and change_membership() calls and their server, so
//      fuzzed read rounds (read_seq), transfer flags, TimeoutNow and configuration entries meet
//      a core with reads pending, a transfer or a configuration change under way.
//   3  as 1, on a core whose log is compacted (chapter 5): the host snapshots and compacts every
//      few inputs, so fuzzed InstallSnapshot chunks and replies, and AppendEntries reaching
//      before the log start, meet a core that has a snapshot to send and one being received;
//      completed installs are performed as raft.h says (saved, persisted, restored).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "agent/raft/mem_storage.h"
#include "agent/raft/raft.h"
#include "agent/wire/raft_message.h"

namespace {

void check(bool ok) {
  if (!ok) abort();
}

struct Host {
  raft::MemStorage disk;
  std::unique_ptr<raft::RaftCore> core;
  int64_t now_ns = 0;
  uint64_t read_ctx = 0;
  raft::Index applied = 0;  // the state machine: only its index matters here
  explicit Host(size_t chunk_bytes = 256 * 1024) {
    raft::RaftConfig c;
    c.id = 1;
    c.voters = {1, 2, 3};
    c.snapshot_chunk_bytes = chunk_bytes;
    c.snapshot_bytes_max = 4096;
    core = std::make_unique<raft::RaftCore>(c, disk, 1, base::MonoTime::from_ns(0));
  }
  void pump() {
    while (core->has_ready()) {
      raft::Ready rd = core->take_ready();
      check(raft::write_ready(disk, rd).is_ok());
      check(disk.sync().is_ok());
      if (rd.snapshot) {
        check(rd.snapshot->meta.index > applied);
        applied = rd.snapshot->meta.index;
      }
      for (const raft::Entry& e : rd.committed) {
        check(e.index == applied + 1);
        applied = e.index;
      }
      core->on_persisted(rd.id, base::MonoTime::from_ns(now_ns));
    }
  }
  // The host snapshots its applied state and compacts all of it.
  void snapshot_and_compact() {
    if (applied == 0 || applied < core->log_start().index) return;
    const raft::SnapshotMeta meta = core->snapshot_meta_at(applied);
    check(core->set_snapshot(meta, std::make_shared<const std::string>(100, 's')).is_ok());
    check(core->compact(applied).is_ok());
    pump();
  }
};

Host& host() {
  static Host h;
  return h;
}

Host& compacting_host() {
  static Host h(16);
  return h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t target = data[0] % 4;
  uint8_t knob = 0;
  if (target == 2 || target == 3) {
    if (size < 2) return 0;
    knob = data[1];
    ++data;
    --size;
  }
  base::ByteSpan in(data + 1, size - 1);
  raft::Message m;
  if (!wire::decode_raft_message(in, &m).is_ok()) return 0;
  if (target == 0) {
    std::string again = wire::encode_raft_message(m);
    raft::Message m2;
    check(wire::decode_raft_message(base::as_bytes(again), &m2).is_ok());
    check(m == m2);
    return 0;
  }
  Host& h = target == 3 ? compacting_host() : host();
  h.now_ns += 7 * 1000 * 1000;  // time moves on so timers fire now and then
  const base::MonoTime now = base::MonoTime::from_ns(h.now_ns);
  if (target == 2) {
    // Untrusted messages must never trip an assert whatever the core is doing with its reads and
    // transfers; refusals are Statuses.
    if (knob & 1) (void)h.core->read_index(++h.read_ctx, now);
    if (knob & 2) (void)h.core->transfer_leadership(raft::ServerId((knob >> 4) % 5), now);
    if (knob & 8) {
      (void)h.core->change_membership(static_cast<raft::MembershipChange>((knob >> 6) % 3),
                                      raft::ServerId((knob >> 4) % 5), now);
    }
  }
  if (target == 3 && (knob & 8)) h.snapshot_and_compact();
  h.core->on_message(m, now);
  h.pump();
  if (target == 2 && (knob & 4)) (void)h.core->read_index(++h.read_ctx, now);
  if (h.core->next_deadline() <= now) h.core->on_tick(now);
  h.pump();
  (void)h.core->propose("fuzz", now);
  h.pump();
  return 0;
}
