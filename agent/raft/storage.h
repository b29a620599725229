// raft::Storage: where a server's term, vote and log live, and the contract that makes Raft's
// promises true -- nothing a message promises goes out before it is durable (dissertation §3.8:
// "servers must persist their current term, vote and log before responding to RPCs").
//
// How the core and its host share the work (sans-I/O, DESIGN.md): the core reads a Storage once,
// when it is built (RaftCore's constructor loads the hard state and every log entry), and never
// writes to it. Every change the core makes comes out in a Ready (raft.h) as "persist these,
// then send these": the host calls write_ready() (or the three write calls itself), then sync(),
// and only after sync() returns OK sends the Ready's messages and applies its committed entries,
// then tells the core with RaftCore::on_persisted(). A host may run sync() on a worker (it is an
// fsync), but must not reorder Readies.
//
// Write semantics: writes are buffered until sync(); a crash loses every write after the last
// successful sync() and nothing before it. A failed sync() means the process must stop
// (STYLE.md: never retry a failed fsync). Index 0 is the empty log's sentinel: term_at(0) is 0.
//
// Implementations: MemStorage (mem_storage.h) for tests and the simulator; SQLite (term, vote and
// log in a WAL database, synchronous=FULL) is the next step (README.md).
// Threading: one owner at a time; the core reads it only inside its constructor.
#pragma once

#include <cstdint>
#include <span>
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

class Storage {
 public:
  virtual ~Storage() = default;

  // --- read side (the core, at construction) --------------------------------------------------
  virtual HardState hard_state() const = 0;
  // The last index in the log (0 when empty). Entries are 1..last_index() until snapshots.
  virtual Index last_index() const = 0;
  // Entries [from, last_index()] in order; `from` >= 1.
  virtual std::vector<Entry> entries(Index from) const = 0;

  // --- write side (the host, from a Ready) ------------------------------------------------------
  virtual base::Status save_hard_state(const HardState& hs) = 0;
  // Deletes every entry with index >= `from` (no-op if there is none).
  virtual base::Status truncate_suffix(Index from) = 0;
  // Appends entries; the first one's index must be last_index() + 1 (kInvalidArgument if not).
  virtual base::Status append(std::span<const Entry> entries) = 0;
  // Makes every write so far durable. After an error the process must stop.
  virtual base::Status sync() = 0;
};

}  // namespace raft
