// raft::MemStorage: Storage in memory, split into what is durable and what is not, for unit tests
// and the simulator.
//
// Every write goes to the "current" view at once (what reads return) and is queued as unsynced;
// sync() applies the queued writes to the "durable" view; crash() throws the unsynced writes away
// and makes the current view the durable one again -- a disk that loses what was not fsync'd, as
// the simulator's disks do. A test keeps a MemStorage outside the simulated process so that it
// outlives a crash, and builds the restarted server's core from it.
//
// Test-only fault: fail_next_sync makes the next sync() return kIo (the host must stop).
// Threading: one owner. Ownership: owns copies of everything written.
#pragma once

#include <cstdint>
#include <vector>

#include "agent/raft/storage.h"

namespace raft {

class MemStorage final : public Storage {
 public:
  MemStorage() = default;

  HardState hard_state() const override { return current_.hs; }
  SnapshotMeta snapshot_meta() const override { return current_.start; }
  Index last_index() const override { return current_.start.index + current_.log.size(); }
  std::vector<Entry> entries(Index from) const override;

  base::Status save_hard_state(const HardState& hs) override;
  base::Status apply_snapshot(const SnapshotMeta& meta) override;
  base::Status truncate_suffix(Index from) override;
  base::Status append(std::span<const Entry> entries) override;
  base::Status compact(Index upto) override;
  base::Status sync() override;

  // Loses every write since the last successful sync().
  void crash();
  // What a crash now would leave.
  const HardState& durable_hard_state() const { return durable_.hs; }
  Index durable_last_index() const { return durable_.start.index + durable_.log.size(); }
  const SnapshotMeta& durable_snapshot_meta() const { return durable_.start; }
  size_t unsynced_writes() const { return unsynced_.size(); }
  uint64_t syncs() const { return syncs_; }
  bool fail_next_sync = false;

 private:
  struct State {
    HardState hs;
    SnapshotMeta start;      // the log starts after start.index
    std::vector<Entry> log;  // log[i] has index start.index + 1 + i
  };
  struct Write {
    enum Kind : uint8_t { kHardState, kTruncate, kAppend, kSnapshot, kCompact } kind;
    HardState hs;
    Index from = 0;  // kTruncate: first index deleted; kCompact: last index deleted
    std::vector<Entry> entries;
    SnapshotMeta meta;
  };
  static void apply(State& s, const Write& w);

  State current_;
  State durable_;
  std::vector<Write> unsynced_;
  uint64_t syncs_ = 0;
};

}  // namespace raft
