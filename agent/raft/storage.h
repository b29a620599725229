// raft::Storage: where a server's term, vote and log live, and the contract that makes Raft's
// promises true -- nothing a message promises goes out before it is durable (dissertation §3.8:
// "servers must persist their current term, vote and log before responding to RPCs").
//
// How the core and its host share the work (sans-I/O, DESIGN.md): the core reads a Storage once,
// when it is built (RaftCore's constructor loads the hard state, where the log starts and every
// entry after that), and never writes to it. Every change the core makes comes out in a Ready (raft.h) as "persist these,
// then send these": the host calls write_ready() (or the three write calls itself), then sync(),
// and only after sync() returns OK sends the Ready's messages and applies its committed entries,
// then tells the core with RaftCore::on_persisted(). A host may run sync() on a worker (it is an
// fsync), but must not reorder Readies.
//
// Write semantics: writes are buffered until sync(); a crash loses every write after the last
// successful sync() and nothing before it. A failed sync() means the process must stop
// (STYLE.md: never retry a failed fsync). Index 0 is the empty log's sentinel: term_at(0) is 0.
//
// Log compaction (dissertation chapter 5): the log need not start at index 1. snapshot_meta()
// names the point it starts after -- every entry <= its index is covered by a snapshot the HOST
// keeps (the state-machine image; this seam stores only its index and term) and is gone from
// here; its term is what the entry at that index had, so the first entry held can still be
// checked against its predecessor (§5.1: "the last included index and term"). Two writes move
// it: apply_snapshot() when a follower installs a leader's snapshot (Figure 5.3), compact() when
// the host has a durable snapshot of its own. Both are part of a Ready and durable at sync().
//
// Implementations: MemStorage (mem_storage.h) for tests and the simulator; SqliteStorage
// (sqlite/sqlite_storage.h: term, vote, log start and log in a WAL database, synchronous=FULL).
// Threading: one owner at a time; the core reads it only inside its constructor.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "agent/base/status.h"
#include "agent/wire/raft_message.h"

namespace raft {

using ServerId = uint64_t;  // 0 means "none"
using Term = uint64_t;
using Index = uint64_t;
using Entry = wire::RaftEntry;

inline constexpr ServerId kNoServer = 0;

// The persistent state of Figure 3.1 other than the log: currentTerm and votedFor.
struct HardState {
  Term term = 0;
  ServerId voted_for = kNoServer;
  bool operator==(const HardState&) const = default;
};

// A snapshot's place in the log (Figure 5.3 "lastIndex", "lastTerm", "lastConfig"): it holds the
// state after applying every entry up to `index`, whose term is `term`, and `config` is the
// cluster configuration as of `index` (§4.1 / §5.1: "the latest configuration as of the last
// included index", voters and learners) -- a compacted configuration entry survives here. {0, 0}:
// no snapshot. An empty `config` (no voter) records none: the configuration as of `index` is then
// the bootstrap one (RaftConfig::voters), as for a log that never held a configuration entry.
struct SnapshotMeta {
  SnapshotMeta() = default;
  SnapshotMeta(Index i, Term t, wire::RaftMembership c = {}) : index(i), term(t), config(std::move(c)) {}
  Index index = 0;
  Term term = 0;
  wire::RaftMembership config;
  bool operator==(const SnapshotMeta&) const = default;
  // Index and term only (the place in the log, whatever configuration is recorded).
  bool same_place(const SnapshotMeta& o) const { return index == o.index && term == o.term; }
};

class Storage {
 public:
  virtual ~Storage() = default;

  // --- read side (the core, at construction) --------------------------------------------------
  virtual HardState hard_state() const = 0;
  // Where the log starts (see above): entries snapshot_meta().index + 1 .. last_index() are held.
  virtual SnapshotMeta snapshot_meta() const = 0;
  Index first_index() const { return snapshot_meta().index + 1; }
  // The last index in the log: snapshot_meta().index when no entry follows the snapshot.
  virtual Index last_index() const = 0;
  // Entries [max(from, first_index()), last_index()] in order; `from` >= 1.
  virtual std::vector<Entry> entries(Index from) const = 0;

  // --- write side (the host, from a Ready) ------------------------------------------------------
  virtual base::Status save_hard_state(const HardState& hs) = 0;
  // Figure 5.3 receiver 5-7, the log's part (the host installed the image first, raft.h): the log
  // now starts after meta.index -- every entry <= meta.index is deleted and snapshot_meta()
  // becomes `meta`; entries after it are kept (a Ready's truncate_from says when they go).
  // kInvalidArgument if meta.index is below the current snapshot_meta().index.
  virtual base::Status apply_snapshot(const SnapshotMeta& meta) = 0;
  // Deletes every entry with index >= `from` (no-op if there is none). `from` > the log start.
  virtual base::Status truncate_suffix(Index from) = 0;
  // Appends entries; the first one's index must be last_index() + 1 (kInvalidArgument if not).
  virtual base::Status append(std::span<const Entry> entries) = 0;
  // §5.1 log compaction: deletes every entry <= `upto`; snapshot_meta() becomes {upto, its term,
  // the configuration as of upto: the latest kConfig entry <= upto, else the current
  // snapshot_meta().config}.
  // No-op when upto <= snapshot_meta().index; kInvalidArgument past last_index().
  virtual base::Status compact(Index upto) = 0;
  // Makes every write so far durable. After an error the process must stop.
  virtual base::Status sync() = 0;
};

}  // namespace raft
