// state::Store: the replicated state machine's database (DESIGN.md "Consensus and state", issue 4
// item 3). Every foundation applies the same committed Raft entries in the same order to its own
// Store, so every replica holds the same rows; reads are served from it.
//
// How the file is organised (schema version 3; SQLite, WAL journal):
//   meta(key TEXT PRIMARY KEY, value INTEGER)  'schema_version' = 3, 'last_applied' = the Raft
//                                              index of the last applied entry (0: none),
//                                              'catalog_{nodes,services,checks}_index' = the
//                                              index at which each catalog table last changed
//   nodes(name TEXT PRIMARY KEY, id TEXT, address TEXT, meta BLOB)     -- version 1's, unused
//   catalog_nodes, catalog_services, catalog_checks   -- version 3: the service catalog (issue 5),
//                                              one row per node, per (node, service id), per
//                                              (node, check id), each with create and modify
//                                              index; written by wire/catalog_command.h's commands
//   kv(key TEXT PRIMARY KEY, value BLOB, flags, create_index, modify_index, lock_index,
//      session TEXT NULL)                  -- Consul's DirEntry; a rowid table since version 2
//   kv_tombstones(key TEXT PRIMARY KEY, modify_index)  -- the index that deleted a key, so a
//                                              prefix's X-Consul-Index moves on a delete (as
//                                              Consul's tombstones do; reaping comes later)
// Integers are the uint64 values stored as int64 bit for bit. Keys compare as bytes (BINARY
// collation), so a prefix is the range [prefix, successor(prefix)). A database written by a newer
// agent (schema_version > 3) is refused with kFailedPrecondition. An older file (version 1: kv
// WITHOUT ROWID; version 2: no catalog) is migrated in place at open, in one transaction, and an
// older snapshot image is migrated in memory by restore() before its checks; an older agent
// refuses a newer file.
//
// Applying: apply(first_index, commands) runs ONE transaction per batch. Command i has Raft index
// first_index + i, which becomes its modify_index (and create_index when it creates the key); the
// batch's last index is written to meta.last_applied in the same transaction, so after a crash the
// file holds a prefix of the batches and last_applied says where the host resumes. A command that
// does not decode or breaks a limit yields an error result and changes nothing; the rest of the
// batch applies (every replica decodes the same bytes, so every replica reaches the same verdict).
// A SQLite failure rolls the whole batch back and returns kIo: nothing of it is applied,
// last_applied is unchanged, and the store refuses further batches (the host must stop: replicas
// must not diverge). synchronous=NORMAL: losing the last batches in a power cut is safe because
// last_applied goes back with them and the host re-applies them from the Raft log.
//
// Snapshots: snapshot() is the database image (sqlite3_serialize) behind a header with a SHA-256
// (hal/crypto.h); restore() verifies the digest, opens the image in memory, runs PRAGMA
// quick_check, checks the schema version and last_applied, and only then copies it over the live
// database in one step (the backup API); a bad snapshot is an error and the live state is
// untouched. Snapshot layout (integers little-endian):
//   8 bytes "WEFTSNAP", u32 format (1), u64 schema_version, u64 last_applied, u64 image bytes,
//   32 bytes SHA-256 of everything before it and of the image, then the image.
//
// Threading: one owner at a time, no internal locks. Every call does blocking file I/O, so the
// host runs it on the worker pool (DESIGN.md) and never on the event-loop thread.
// Not here: sockets, clocks; sessions and locks (the column is there); node commands; HTTP.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/base/status.h"
#include "agent/wire/catalog_command.h"

struct sqlite3;
struct sqlite3_stmt;

namespace state {

struct KvEntry {
  std::string key;
  std::string value;
  uint64_t flags = 0;
  uint64_t create_index = 0;
  uint64_t modify_index = 0;
  uint64_t lock_index = 0;
  std::optional<std::string> session;

  bool operator==(const KvEntry&) const = default;
};

// The service catalog (schema version 3; wire/catalog_command.h has the commands that fill it).
struct CatalogNodeRow {
  std::string name;
  std::string id;
  std::string address;
  std::string datacenter;
  wire::MetaPairs meta;
  uint64_t create_index = 0;
  uint64_t modify_index = 0;
};
struct CatalogServiceRow {
  std::string node;
  wire::CatalogService service;
  uint64_t create_index = 0;
  uint64_t modify_index = 0;
};
struct CatalogCheckRow {
  std::string node;
  wire::CatalogCheck check;
  std::string service_name;  // of check.service_id, "" for a node's check
  uint64_t create_index = 0;
  uint64_t modify_index = 0;
};
enum class CatalogTable : uint8_t { kNodes, kServices, kChecks };
// The node check the catalog keeps for every node from gossip (Consul's name and texts).
inline constexpr const char* kSerfHealthCheckId = "serfHealth";

// The outcome of one command. `status` is an error for a command that was refused as invalid
// (nothing changed); otherwise `value` is Consul's answer: true for set, delete and delete-tree;
// for cas and delete-cas whether the index matched.
struct ApplyResult {
  base::Status status;
  bool value = false;
};

struct StoreOptions {
  // Largest snapshot restore() accepts, in bytes. 1 GiB: SQLite's default blob limit and far more
  // than a fleet's state; a header claiming more is refused before anything is allocated.
  size_t snapshot_bytes_max = size_t{1} << 30;
  // Largest batch apply() accepts, in commands. The Raft host applies at most one Ready's committed
  // entries at a time; 4096 bounds a transaction's size.
  size_t batch_commands_max = 4096;
  // The SQLite VFS to open the file through (sqlite3_open_v2's zVfs): the host passes
  // hal::Env::sqlite_vfs. Empty: SQLite's default VFS. An unknown name fails open() with kIo.
  std::string vfs = {};
};

class Store {
 public:
  static constexpr int64_t kSchemaVersion = 3;

  // Opens (creating if absent) the database at `path`: WAL, exclusive locking, the schema created
  // or checked, PRAGMA quick_check. Errors: kIo (SQLite could not open or read it),
  // kFailedPrecondition (a newer schema version, not a state database, quick_check failed).
  static base::Result<std::unique_ptr<Store>> open(const std::string& path, const StoreOptions& options = {});

  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // The Raft index of the last applied entry (0 if none): the host resumes at last_applied() + 1.
  uint64_t last_applied() const { return last_applied_; }

  // Applies commands[i] at Raft index first_index + i in one transaction (see above). Returns one
  // result per command. Errors: kInvalidArgument (first_index <= last_applied(), first_index 0, or
  // over batch_commands_max: nothing applied), kIo (SQLite failed: nothing applied, store
  // poisoned), kFailedPrecondition (poisoned earlier). An empty batch is a no-op.
  base::Result<std::vector<ApplyResult>> apply(uint64_t first_index, std::span<const std::string> commands);

  // --- reads (read-only prepared statements; errors are kIo) -----------------------------------
  base::Result<std::optional<KvEntry>> get(std::string_view key) const;
  // Every entry whose key starts with `prefix`, in key order.
  base::Result<std::vector<KvEntry>> list(std::string_view prefix) const;
  // Consul's ?keys&separator=: keys under `prefix`; with a separator, a key with the separator
  // after the prefix is cut just after it ("web/sub/x" under "web/" -> "web/sub/"), duplicates once.
  base::Result<std::vector<std::string>> keys(std::string_view prefix, std::string_view separator) const;
  // X-Consul-Index for `prefix`: the largest modify index of a key or tombstone under it, or
  // last_applied() if there is none (Consul falls back to the table's index).
  base::Result<uint64_t> prefix_index(std::string_view prefix) const;

  // --- the catalog (reads; errors are kIo) ------------------------------------------------------
  // The index at which `table` last changed (0: never; the HTTP layer answers 1 then).
  base::Result<uint64_t> catalog_index(CatalogTable table) const;
  base::Result<std::vector<CatalogNodeRow>> catalog_nodes() const;
  base::Result<std::optional<CatalogNodeRow>> catalog_node(std::string_view name) const;
  // A node's services (node non-empty) or the instances of a service by name (name non-empty),
  // in (node, id) order.
  base::Result<std::vector<CatalogServiceRow>> catalog_services_of_node(std::string_view node) const;
  base::Result<std::vector<CatalogServiceRow>> catalog_service_instances(std::string_view name) const;
  // Every service name with the union of its instances' tags (sorted, unique), by name.
  base::Result<std::vector<std::pair<std::string, std::vector<std::string>>>> catalog_service_names() const;
  // Whether applying a sync of `n` would change nothing (the node, exactly its services and
  // checks, and a serfHealth): anti-entropy's periodic push is then not proposed.
  base::Result<bool> catalog_holds(const wire::CatalogNode& n) const;
  // A node's checks; or every check, or those in one state.
  base::Result<std::vector<CatalogCheckRow>> catalog_checks_of_node(std::string_view node) const;
  base::Result<std::vector<CatalogCheckRow>> catalog_checks(std::optional<wire::CheckHealth> state) const;

  // --- snapshots --------------------------------------------------------------------------------
  // The serialized database with header and digest. Errors: kIo, kFailedPrecondition (poisoned).
  base::Result<std::string> snapshot() const;
  // snapshot() in two steps, so a host can hold its lock on the store only while the image is
  // taken: snapshot_unsealed() is the image and header with the digest left zero (the store's
  // owner must be exclusive, as for every call); seal_snapshot() then writes the digest into it and
  // touches no store (any thread, no lock). An unsealed snapshot fails restore()'s digest check.
  base::Result<std::string> snapshot_unsealed() const;
  static void seal_snapshot(std::string* snapshot);
  // Replaces the live state with `snapshot` after the checks above. Errors: kInvalidArgument (bad
  // header, digest, size), kFailedPrecondition (quick_check failed, wrong schema version or
  // contents), kIo (SQLite failed copying; the copy is one transaction). On any error the live
  // state is unchanged.
  base::Status restore(std::string_view snapshot);

  bool failed() const { return failed_; }

 private:
  explicit Store(sqlite3* db, StoreOptions options);
  base::Status init();
  base::Status prepare_all();
  base::Status apply_one(uint64_t index, std::string_view bytes, ApplyResult* result);
  base::Status load_last_applied();
  base::Status apply_catalog(uint64_t index, std::string_view bytes, ApplyResult* result);
  base::Status catalog_sync(uint64_t index, const wire::CatalogNode& n);
  base::Status catalog_deregister(uint64_t index, std::string_view node);
  base::Status catalog_node_health(uint64_t index, const wire::CatalogNodeHealth& h);
  base::Status bump_index(CatalogTable table, uint64_t index);
  // A prepared statement for `sql` (a string literal: cached by its address), reset for use.
  sqlite3_stmt* cached(const char* sql) const;

  sqlite3* db_ = nullptr;
  StoreOptions options_;
  // Prepared once in open(), reset and rebound on every use.
  sqlite3_stmt* begin_ = nullptr;
  sqlite3_stmt* commit_ = nullptr;
  sqlite3_stmt* rollback_ = nullptr;
  sqlite3_stmt* get_ = nullptr;
  sqlite3_stmt* upsert_ = nullptr;
  sqlite3_stmt* delete_ = nullptr;
  sqlite3_stmt* tomb_put_ = nullptr;
  sqlite3_stmt* tomb_del_ = nullptr;
  sqlite3_stmt* tomb_tree_ = nullptr;
  sqlite3_stmt* delete_tree_ = nullptr;
  sqlite3_stmt* set_applied_ = nullptr;
  sqlite3_stmt* list_ = nullptr;
  sqlite3_stmt* list_all_ = nullptr;
  sqlite3_stmt* keys_ = nullptr;
  sqlite3_stmt* keys_all_ = nullptr;
  sqlite3_stmt* max_index_ = nullptr;
  sqlite3_stmt* max_index_all_ = nullptr;
  uint64_t last_applied_ = 0;
  bool failed_ = false;
  mutable std::vector<std::pair<const char*, sqlite3_stmt*>> cached_;  // the catalog's statements
};

}  // namespace state
