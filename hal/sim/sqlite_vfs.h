// hal/sim/sqlite_vfs.h -- sim::SqliteVfs: a SQLite VFS over one simulated node's disk, so the
// real SQLite code (raft::SqliteStorage, state::Store) runs inside the deterministic simulator
// and a node's crash does to its databases what a power cut would (issue 4, "a simulated SQLite
// disk that can lose unsynced writes and tear a write at a crash").
//
// Every sim::Node owns one, registered with SQLite under a name unique in the process
// ("weftsim-<serial>-<node>") for the node's whole life, and its hal::Env names it in
// `sqlite_vfs`: code opens a database on a node with
//   sqlite3_open_v2(path, &db, flags, env.sqlite_vfs.c_str())
// (or through SqliteStorageOptions::vfs / StoreOptions::vfs). Paths are the node's SimFs paths.
//
// What each call does (the design follows SQLite's test_demovfs.c: a file is a name plus an
// offset-addressed byte array; none of its code is copied):
//   xOpen/xClose     a named file is a SimFs file (create_file); a nameless temporary file
//                    (SQLite's sorter and statement spills) is a private buffer that no crash
//                    concerns. DELETEONCLOSE removes the file at close.
//   xRead/xWrite/    SimFs read_at / write_at / truncate: writes land in the disk's unsynced
//   xTruncate        layer; a short read zero-fills and returns SQLITE_IOERR_SHORT_READ.
//   xSync            SimFs::sync_file: the file becomes durable (or the injected fsync failure
//                    fires: SQLITE_IOERR_FSYNC, and SQLite's callers poison themselves).
//   xDelete/xAccess  durable at once, like every SimFs metadata operation.
//   xLock/xUnlock    SQLite's five lock levels, per path, among this node's open handles (so a
//                    second connection to a database held in EXCLUSIVE locking mode gets
//                    SQLITE_BUSY, as on a real disk).
//   xShmMap & co.    refused with SQLITE_IOERR_SHMMAP (and counted, and logged through
//                    sqlite3_log): Weft's databases set PRAGMA locking_mode=EXCLUSIVE before
//                    journal_mode=WAL, which keeps the WAL index in heap memory, so shared
//                    memory is never needed; a caller that forgets gets a clear error rather
//                    than a silent fallback.
//   xSectorSize      SimConfig::disk_sector_bytes; xDeviceCharacteristics says POWERSAFE_OVERWRITE
//                    (a torn write never changes bytes outside its range, hal/sim/fs.h).
//   xCurrentTime     the node's simulated wall clock (never the real one).
//   xRandomness      the node's seeded stream. SQLite draws randomness (WAL salts) from ONE
//                    process-wide generator seeded through the DEFAULT VFS, so the constructor
//                    also pins that generator with SQLITE_TESTCTRL_PRNG_SEED: the bytes SQLite
//                    writes replay with the World's seed (while one World runs at a time).
//   xSleep           returns at once: nothing in the simulation waits on real time (SQLite sleeps
//                    only to retry a busy lock, which exclusive locking never needs).
// Crashes: a handle opened before the node's last power_off() (hal/sim/fs.h) is dead -- every
// call on it fails with an I/O error and it holds no lock -- so whatever the crashed process's
// destructors do through SQLite (rollback, the checkpoint at close) reaches nothing, and the
// disk keeps exactly what a power cut leaves.
//
// Threading: the simulation thread only (SQLite calls back on the caller's thread).
// Ownership: sim::Node owns it; it must outlive every connection opened through it (the
// destructor asserts that no file is open). Not here: memory-mapped I/O (xFetch), loadable
// extensions (xDlOpen fails), real time.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "agent/base/random.h"
#include "hal/sim/clock.h"
#include "hal/sim/fs.h"

struct sqlite3_vfs;

namespace sim {

class SqliteVfs {
 public:
  // Registers the VFS as `name_hint` plus a process-wide serial (not as SQLite's default).
  SqliteVfs(const std::string& name_hint, SimFs& fs, SimClock& clock, uint64_t seed);
  ~SqliteVfs();
  SqliteVfs(const SqliteVfs&) = delete;
  SqliteVfs& operator=(const SqliteVfs&) = delete;

  // The registered name: what sqlite3_open_v2's zVfs takes.
  const std::string& name() const { return name_; }
  SimFs& fs() { return fs_; }

  // Counters, for tests.
  size_t open_files() const { return open_files_; }
  uint64_t syncs() const { return syncs_; }
  uint64_t shm_calls() const { return shm_calls_; }

 private:
  struct File;
  friend struct VfsCalls;

  // Lock bookkeeping: the other live handles on `path` and the highest level among them.
  int others_lock(const File* self) const;

  std::string name_;
  SimFs& fs_;
  SimClock& clock_;
  base::Prng prng_;
  sqlite3_vfs* vfs_ = nullptr;  // owned (a C struct SQLite keeps a pointer to)
  std::map<std::string, std::vector<File*>> open_;  // path -> open handles
  size_t open_files_ = 0;
  uint64_t syncs_ = 0;
  uint64_t shm_calls_ = 0;
};

}  // namespace sim
