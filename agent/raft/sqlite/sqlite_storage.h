// raft::SqliteStorage: the Storage seam (storage.h) over a SQLite database -- term, vote and log
// in one file, WAL journal, synchronous=FULL (DESIGN.md "Consensus and state", issue 4 item 2).
//
// How the file is organised (schema version 3):
//   meta(key TEXT PRIMARY KEY, value INTEGER)    -- 'schema_version' = 3, 'snapshot_index' and
//                                                   'snapshot_term': where the log starts (§5.1)
//   log_start_config(id = 1, data BLOB)          -- exactly one row: the configuration as of the
//                                                   log start (encode_raft_membership; no voter:
//                                                   none recorded), SnapshotMeta::config
//   hard_state(id = 1, term, voted_for)          -- at most one row; absent means {0, none}
//   log(idx INTEGER PRIMARY KEY, term, type, data BLOB)  -- snapshot_index + 1 .. last
// Integers are the uint64 values stored as int64 (bit for bit). Only the snapshot's META lives
// here: the image is the host's (the state machine's serialized database, in its own file,
// written and fsync'd before the Ready whose apply_snapshot() records the meta here -- raft.h);
// keeping a possibly large blob out of the log's database keeps its WAL small and lets the host
// stream the image from a file. A database written by a newer agent (schema_version > 3) is
// refused with kFailedPrecondition rather than read with the wrong meaning.
//
// Migration: a version-1 database (before log compaction; its log starts at index 1) is upgraded
// in place by open(), in the same transaction that checks the schema: the log start {0, 0} is
// added to meta and schema_version set to 2 -- all or nothing. A version-1 agent then refuses the
// file (newer schema), as it must: it would misread a compacted log. Version 2 -> 3 (membership
// changes, chapter 4) adds log_start_config with no configuration recorded, in the same way; a
// version-2 agent refuses the result (it would lose a compacted configuration).
//
// Transactions: the first write after a sync() opens a transaction (BEGIN IMMEDIATE); every
// write of a Ready -- hard state, the truncation of a conflicting suffix, the new entries -- goes
// into it, and sync() commits it. With journal_mode=WAL and synchronous=FULL the commit returns
// only after the WAL is fsync'd, so a Ready is durable as a whole or not at all: a crash before
// sync() returns loses the whole Ready (as storage.h promises), never half of it.
//
// Errors, and what the caller must do: a failed write or sync() leaves the transaction in an
// unknown state; this object then refuses every further write (kFailedPrecondition) and the HOST
// MUST STOP THE PROCESS (STYLE.md: never retry a failed fsync -- the kernel may have dropped the
// dirty pages, so a retry that "succeeds" proves nothing). The destructor rolls back whatever was
// not synced. Invalid input (a non-contiguous append, an entry over entry_bytes_max) is rejected
// before anything is written and does not poison the object.
//
// Reading back: open() validates the whole log before returning (schema version, optional
// PRAGMA quick_check, at most one hard-state row, indexes contiguous from 1, terms >= 1,
// non-decreasing and at most the stored term, known entry types, data within entry_bytes_max), so
// a corrupt or hand-edited database is a clear kFailedPrecondition/kIo error from open(), never a
// crash in RaftCore's constructor (which asserts the same properties). Storage's read calls
// return plain values; if SQLite fails on a read after open() validated the file, the disk failed
// under us and entries() stops the process with a message (like a failed fsync).
//
// Threading: one owner at a time, no internal locks (SQLITE_OPEN_NOMUTEX). Every call here does
// blocking file I/O -- open() reads the whole log, sync() fsyncs -- so the host runs them on the
// worker pool (DESIGN.md), never on the event-loop thread: it opens the storage on a worker,
// builds RaftCore from it, then hands each Ready to a worker that calls write_ready() and sync()
// and posts the result back to the loop, which calls on_persisted() (or exits on error). Readies
// are handled one at a time, in order (raft.h), so the worker never races the loop for this
// object. The connection may move between threads between calls.
//
// Not here: sockets, clocks, randomness (none are needed); the snapshot image (the host's).
// In simulation the file lives on the node's simulated disk through options.vfs
// (hal/sim/sqlite_vfs.h), where crashes lose unsynced writes and tear them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "agent/base/status.h"
#include "agent/raft/storage.h"
#include "agent/wire/raft_message.h"

struct sqlite3;
struct sqlite3_stmt;

namespace raft {

struct SqliteStorageOptions {
  // Largest entry data accepted by append() and by open()'s validation, in bytes. Defaults to the
  // wire format's bound (1 MiB: a 512 KiB KV value with key and header) because an entry bigger
  // than that could never be replicated anyway.
  size_t entry_bytes_max = wire::kEntryBytesMax;
  // Run PRAGMA quick_check at open (O(database size); catches torn pages and broken b-trees before
  // they turn into wrong answers). On by default: open happens once per process start.
  bool quick_check = true;
  // The SQLite VFS to open the file through (sqlite3_open_v2's zVfs): the host passes
  // hal::Env::sqlite_vfs. Empty: SQLite's default VFS. An unknown name fails open() with kIo.
  std::string vfs = {};
};

class SqliteStorage final : public Storage {
 public:
  static constexpr int64_t kSchemaVersion = 3;

  // Opens (creating if absent) the database at `path`, sets WAL and synchronous=FULL, creates or
  // checks the schema and validates the stored hard state and log. Errors: kIo (SQLite could not
  // open, read or write the file, or it is not a database), kFailedPrecondition (a newer schema
  // version, or contents that violate the invariants above; the message says which row),
  // kInvalidArgument (bad options). Blocking: run on a worker.
  static base::Result<std::unique_ptr<SqliteStorage>> open(const std::string& path,
                                                           const SqliteStorageOptions& options = {});

  ~SqliteStorage() override;  // rolls back unsynced writes, closes the database
  SqliteStorage(const SqliteStorage&) = delete;
  SqliteStorage& operator=(const SqliteStorage&) = delete;

  // --- Storage: reads see every write so far, synced or not (like MemStorage's current view) ----
  HardState hard_state() const override { return hs_; }
  SnapshotMeta snapshot_meta() const override { return start_; }
  Index last_index() const override { return last_index_; }
  Term last_term() const { return last_term_; }
  // Stops the process if SQLite fails to read a file that open() validated (see above).
  std::vector<Entry> entries(Index from) const override;
  // Entries [max(from, first_index()), to] (to clamped to last_index()), with errors as values.
  // `from` >= 1.
  base::Result<std::vector<Entry>> read_entries(Index from, Index to) const;

  // --- Storage: writes (buffered in one transaction until sync()) -----------------------------
  base::Status save_hard_state(const HardState& hs) override;
  // kInvalidArgument (nothing written) for index or term 0, an index below the log start or a
  // term above the stored current term.
  base::Status apply_snapshot(const SnapshotMeta& meta) override;
  base::Status truncate_suffix(Index from) override;
  // kInvalidArgument if the first index is not last_index() + 1 or the batch is not contiguous;
  // kResourceExhausted if an entry's data is over entry_bytes_max. Both checked before writing.
  base::Status append(std::span<const Entry> entries) override;
  base::Status compact(Index upto) override;
  // Commits the open transaction (fsync of the WAL). OK and no I/O if nothing was written.
  base::Status sync() override;

  // Commits that sync() made durable (for tests and metrics).
  uint64_t syncs() const { return syncs_; }
  // True after a failed write or sync: the host must stop.
  bool failed() const { return failed_; }
  // The schema version open() found and upgraded (1 or 2), or 0 if it needed no migration.
  int64_t migrated_from() const { return migrated_from_; }

 private:
  SqliteStorage(sqlite3* db, SqliteStorageOptions options);
  base::Status init();
  base::Status prepare_all();
  base::Status create_or_check_schema();
  base::Status load_and_validate();
  base::Status begin_if_needed();
  base::Status fail(base::Status s);  // poisons the object and returns s
  base::Status check_writable() const;
  // Deletes entries <= delete_upto and records `start` as the log start.
  base::Status write_start(const SnapshotMeta& start, Index delete_upto);

  sqlite3* db_ = nullptr;
  SqliteStorageOptions options_;
  // Prepared once in open(), reset and rebound on every use: no per-call statement compilation.
  sqlite3_stmt* begin_ = nullptr;
  sqlite3_stmt* commit_ = nullptr;
  sqlite3_stmt* rollback_ = nullptr;
  sqlite3_stmt* save_hs_ = nullptr;
  sqlite3_stmt* truncate_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* select_ = nullptr;
  sqlite3_stmt* term_at_ = nullptr;
  sqlite3_stmt* save_start_ = nullptr;
  sqlite3_stmt* save_start_config_ = nullptr;
  sqlite3_stmt* config_at_ = nullptr;
  sqlite3_stmt* delete_prefix_ = nullptr;

  HardState hs_;
  SnapshotMeta start_;
  Index last_index_ = 0;
  Term last_term_ = 0;
  bool in_txn_ = false;
  bool failed_ = false;
  uint64_t syncs_ = 0;
  int64_t migrated_from_ = 0;
};

}  // namespace raft
