// state::Store: see store.h for the file's layout, the transaction per batch and the snapshot
// format.
#include "agent/state/store.h"

#include <sqlite3.h>

#include <cstring>
#include <utility>

#include "agent/base/assert.h"
#include "agent/base/bytes.h"
#include "agent/sql/sql.h"
#include "agent/wire/state_command.h"
#include "hal/crypto.h"

namespace state {

namespace {

using base::Code;
using base::Status;
using sql::exec;
using sql::from_sql;
using sql::query_int;
using sql::query_text;
using sql::step_done;
using sql::to_sql;
using wire::StateCommandType;

constexpr char kSnapshotMagic[8] = {'W', 'E', 'F', 'T', 'S', 'N', 'A', 'P'};
constexpr uint32_t kSnapshotFormat = 1;
constexpr size_t kSnapshotHeaderBytes = 8 + 4 + 8 + 8 + 8 + hal::crypto::kSha256Bytes;
constexpr size_t kSnapshotDigestAt = kSnapshotHeaderBytes - hal::crypto::kSha256Bytes;

// The SHA-256 a snapshot carries: of the header before the digest and of the image after it.
hal::crypto::Digest snapshot_digest(std::string_view snap) {
  return hal::crypto::sha256({base::as_bytes(snap.substr(0, kSnapshotDigestAt)), base::as_bytes(snap.substr(kSnapshotHeaderBytes))});
}

unsigned long long ull(uint64_t v) { return static_cast<unsigned long long>(v); }

void bind_text(sqlite3_stmt* st, int i, std::string_view s) {
  sqlite3_bind_text64(st, i, s.data(), s.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
}

// Binds the upper end of the key range for `prefix`: the smallest string greater than every string
// that starts with it (drop trailing 0xFF bytes, add one to the last). With no such string (an
// empty prefix) it binds an empty BLOB: SQLite orders every TEXT value before every BLOB, so
// `key < ?` then holds for every key and one statement serves both cases.
void bind_prefix_end(sqlite3_stmt* st, int i, std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty() && static_cast<uint8_t>(end.back()) == 0xFF) end.pop_back();
  if (end.empty()) {
    sqlite3_bind_zeroblob(st, i, 0);
    return;
  }
  end.back() = static_cast<char>(static_cast<uint8_t>(end.back()) + 1);
  bind_text(st, i, end);
}

std::string column_string(sqlite3_stmt* st, int i) {
  const void* p = sqlite3_column_blob(st, i);
  int n = sqlite3_column_bytes(st, i);
  if (p == nullptr || n <= 0) return {};
  return std::string(static_cast<const char*>(p), static_cast<size_t>(n));
}

// Columns: key, value, flags, create_index, modify_index, lock_index, session.
KvEntry read_entry(sqlite3_stmt* st) {
  KvEntry e;
  e.key = column_string(st, 0);
  e.value = column_string(st, 1);
  e.flags = from_sql(sqlite3_column_int64(st, 2));
  e.create_index = from_sql(sqlite3_column_int64(st, 3));
  e.modify_index = from_sql(sqlite3_column_int64(st, 4));
  e.lock_index = from_sql(sqlite3_column_int64(st, 5));
  if (sqlite3_column_type(st, 6) != SQLITE_NULL) e.session = column_string(st, 6);
  return e;
}

// Schema version 2. kv is a rowid table (version 1 declared it WITHOUT ROWID): a WITHOUT ROWID
// b-tree keeps whole rows in its leaf cells, so a value of a few hundred bytes or more spills to
// overflow pages and every insert moves large cells between pages; the rowid table keeps rows in
// their own b-tree and the key in an index (SQLite's withoutrowid.html advises rowid tables for
// rows over about 1/20 of a page). tests/bench/RESULTS.md "Fourth round" measures the release
// that made this change with the others of its round. kv's CREATE is its own
// statement so that a migrated file and a new one store the same text for it: restore() compares
// schema texts exactly.
constexpr const char* kCreateKv =
    "CREATE TABLE kv(key TEXT PRIMARY KEY, value BLOB NOT NULL, flags INTEGER NOT NULL,"
    "  create_index INTEGER NOT NULL, modify_index INTEGER NOT NULL, lock_index INTEGER NOT NULL,"
    "  session TEXT)";
constexpr const char* kCreateSchema =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE nodes(name TEXT PRIMARY KEY, id TEXT NOT NULL, address TEXT NOT NULL,"
    "  meta BLOB NOT NULL DEFAULT x'') WITHOUT ROWID;"
    "CREATE TABLE kv_tombstones(key TEXT PRIMARY KEY, modify_index INTEGER NOT NULL) WITHOUT ROWID;"
    "INSERT INTO meta(key, value) VALUES ('schema_version', 3), ('last_applied', 0);";
// Schema version 3 adds the service catalog (issue 5): nodes as their agents report them, their
// services and checks, and in meta the index at which each of the three last changed (Consul's
// table indexes, X-Consul-Index of the catalog and health reads). Tags and meta are stored encoded
// (wire::encode_string_list, wire::encode_meta). The same text creates them in a new file and in
// a migrated one.
constexpr const char* kCreateCatalog =
    "CREATE TABLE catalog_nodes(name TEXT PRIMARY KEY, id TEXT NOT NULL, address TEXT NOT NULL,"
    "  datacenter TEXT NOT NULL, meta BLOB NOT NULL, create_index INTEGER NOT NULL,"
    "  modify_index INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE catalog_services(node TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL,"
    "  tags BLOB NOT NULL, address TEXT NOT NULL, port INTEGER NOT NULL, meta BLOB NOT NULL,"
    "  create_index INTEGER NOT NULL, modify_index INTEGER NOT NULL, PRIMARY KEY(node, id)) WITHOUT ROWID;"
    "CREATE INDEX catalog_services_by_name ON catalog_services(name);"
    "CREATE TABLE catalog_checks(node TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL,"
    "  status INTEGER NOT NULL, notes TEXT NOT NULL, output TEXT NOT NULL, service_id TEXT NOT NULL,"
    "  service_name TEXT NOT NULL, type TEXT NOT NULL, create_index INTEGER NOT NULL,"
    "  modify_index INTEGER NOT NULL, PRIMARY KEY(node, id)) WITHOUT ROWID;"
    "INSERT INTO meta(key, value) VALUES ('catalog_nodes_index', 0), ('catalog_services_index', 0),"
    "  ('catalog_checks_index', 0);";

// Version 2 -> 3, inside the caller's transaction: the catalog's tables, empty.
Status migrate_2_to_3(sqlite3* db) {
  AGENT_TRY(exec(db, kCreateCatalog, "migrate: create catalog"));
  return exec(db, "UPDATE main.meta SET value = 3 WHERE key = 'schema_version';", "migrate: schema version 3");
}

// Version 1 -> 2, inside the caller's transaction. Weft's SQLite has no ALTER TABLE
// (tools/sqlite.options), so the rows go to a temporary table and back; kv is created from the
// same text as in a new file.
Status migrate_1_to_2(sqlite3* db) {
  AGENT_TRY(exec(db,
                 "CREATE TEMP TABLE kv_v1 AS SELECT key, value, flags, create_index, modify_index, lock_index, session "
                 "FROM main.kv;"
                 "DROP TABLE main.kv;",
                 "migrate: move kv aside"));
  AGENT_TRY(exec(db, kCreateKv, "migrate: create kv"));
  AGENT_TRY(exec(db,
                 "INSERT INTO main.kv(key, value, flags, create_index, modify_index, lock_index, session) "
                 "SELECT key, value, flags, create_index, modify_index, lock_index, session FROM temp.kv_v1 ORDER BY key;"
                 "DROP TABLE temp.kv_v1;"
                 "UPDATE main.meta SET value = 2 WHERE key = 'schema_version';",
                 "migrate: copy kv"));
  return Status::ok();
}

// Whatever version `version` is, up to this agent's.
Status migrate(sqlite3* db, int64_t version) {
  if (version == 1) AGENT_TRY(migrate_1_to_2(db));
  if (version <= 2) AGENT_TRY(migrate_2_to_3(db));
  return Status::ok();
}

// Checks a database's schema version and tables (the live file at open, an image at restore) and
// returns the version: 1 (to be migrated) or 2.
base::Result<int64_t> check_schema(sqlite3* db) {
  AGENT_ASSIGN_OR_RETURN(int64_t has_meta,
                         query_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'"));
  if (has_meta == 0) return base::error(Code::kFailedPrecondition, "state store: not a state database (no meta table)");
  base::Result<int64_t> v = query_int(db, "SELECT value FROM meta WHERE key = 'schema_version'");
  if (!v.is_ok()) {
    if (v.status().code() == Code::kNotFound) return base::error(Code::kFailedPrecondition, "state store: meta has no schema_version");
    return v.status();
  }
  if (v.value() > Store::kSchemaVersion) {
    return base::error(Code::kFailedPrecondition,
                       "state store: schema version %lld is newer than this agent understands (%lld); refusing it "
                       "(was it written by a newer agent?)",
                       static_cast<long long>(v.value()), static_cast<long long>(Store::kSchemaVersion));
  }
  if (v.value() < 1) {
    return base::error(Code::kFailedPrecondition, "state store: schema version %lld is not valid", static_cast<long long>(v.value()));
  }
  AGENT_ASSIGN_OR_RETURN(int64_t tables, query_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                                                       "name IN ('nodes', 'kv', 'kv_tombstones')"));
  if (tables != 3) return base::error(Code::kFailedPrecondition, "state store: a table of the schema is missing");
  base::Result<int64_t> applied = query_int(db, "SELECT value FROM meta WHERE key = 'last_applied'");
  if (!applied.is_ok()) {
    if (applied.status().code() == Code::kNotFound) return base::error(Code::kFailedPrecondition, "state store: meta has no last_applied");
    return applied.status();
  }
  return v.value();
}

// Every schema object of `db` (type, name, table, CREATE statement), in a fixed order: what a
// snapshot's image must match exactly. check_schema() alone sees only table names, and an image
// whose tables lack a column, or that carries a trigger or an index of its own, would pass it and
// then break (or, with a trigger, silently change) every later apply.
base::Result<std::string> schema_text(sqlite3* db) {
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v2(db, "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master ORDER BY type, name",
                              -1, &st, nullptr);
  if (rc != SQLITE_OK) return sql::error(db, rc, "read schema");
  std::string out;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    for (int i = 0; i < 4; ++i) {
      const unsigned char* t = sqlite3_column_text(st, i);
      out += t != nullptr ? reinterpret_cast<const char*>(t) : "";
      out += i < 3 ? '\x1f' : '\n';
    }
  }
  Status s = rc == SQLITE_DONE ? Status::ok() : sql::error(db, rc, "read schema");
  sqlite3_finalize(st);
  if (!s.is_ok()) return s;
  return out;
}

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbOwner = std::unique_ptr<sqlite3, DbCloser>;

}  // namespace

Store::Store(sqlite3* db, StoreOptions options) : db_(db), options_(options) {}

Store::~Store() {
  if (db_ != nullptr && sqlite3_get_autocommit(db_) == 0) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  for (sqlite3_stmt* st : {begin_, commit_, rollback_, get_, upsert_, delete_, tomb_put_, tomb_del_, tomb_tree_,
                           delete_tree_, set_applied_, list_, keys_, max_index_}) {
    sqlite3_finalize(st);  // no-op on nullptr
  }
  for (auto& [sql_text, st] : cached_) sqlite3_finalize(st);
  sqlite3_close_v2(db_);
}

base::Result<std::unique_ptr<Store>> Store::open(const std::string& path, const StoreOptions& options) {
  if (options.batch_commands_max == 0 || options.snapshot_bytes_max < kSnapshotHeaderBytes) {
    return base::error(Code::kInvalidArgument, "state store: bad options");
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           options.vfs.empty() ? nullptr : options.vfs.c_str());
  if (rc != SQLITE_OK) {
    Status s = base::error(Code::kIo, "state store: open %s: %s", path.c_str(),
                           db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close_v2(db);
    return s;
  }
  std::unique_ptr<Store> store(new Store(db, options));
  AGENT_TRY(store->init());
  return store;
}

Status Store::init() {
  sqlite3_extended_result_codes(db_, 1);
  // Exclusive locking: one agent per file; a second opener gets SQLITE_BUSY instead of sharing.
  AGENT_TRY(exec(db_, "PRAGMA locking_mode=EXCLUSIVE", "locking_mode"));
  AGENT_ASSIGN_OR_RETURN(std::string mode, query_text(db_, "PRAGMA journal_mode=WAL"));
  if (mode != "wal") return base::error(Code::kIo, "state store: journal_mode=WAL refused (mode is '%s')", mode.c_str());
  // NORMAL, not FULL: the Raft log is the durable record; a batch lost in a power cut takes
  // last_applied back with it and is applied again from the log (store.h).
  AGENT_TRY(exec(db_, "PRAGMA synchronous=NORMAL", "synchronous"));
  AGENT_TRY(exec(db_, "PRAGMA cell_size_check=ON", "cell_size_check"));
  // 32 MiB of page cache (SQLite's default is 2 MiB): the servers' working set under write load;
  // pages are allocated as used, so a small store costs only what it holds.
  AGENT_TRY(exec(db_, "PRAGMA cache_size=-32768", "cache_size"));
  // Temporary tables (only the version-1 migration makes one) in memory, not in files beside it.
  AGENT_TRY(exec(db_, "PRAGMA temp_store=MEMORY", "temp_store"));
  AGENT_ASSIGN_OR_RETURN(std::string qc, query_text(db_, "PRAGMA quick_check(1)"));
  if (qc != "ok") return base::error(Code::kFailedPrecondition, "state store: quick_check failed: %s", qc.c_str());

  AGENT_TRY(exec(db_, "BEGIN IMMEDIATE", "begin"));
  Status s = [&]() -> Status {
    AGENT_ASSIGN_OR_RETURN(int64_t objects, query_int(db_, "SELECT count(*) FROM sqlite_master"));
    if (objects == 0) {
      AGENT_TRY(exec(db_, kCreateSchema, "create schema"));
      AGENT_TRY(exec(db_, kCreateKv, "create kv"));
      return exec(db_, kCreateCatalog, "create catalog");
    }
    AGENT_ASSIGN_OR_RETURN(int64_t version, check_schema(db_));
    if (version < kSchemaVersion) return migrate(db_, version);  // in this transaction: all or nothing
    return Status::ok();
  }();
  if (!s.is_ok()) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return s;
  }
  AGENT_TRY(exec(db_, "COMMIT", "commit schema"));
  AGENT_TRY(prepare_all());
  return load_last_applied();
}

Status Store::prepare_all() {
  struct {
    sqlite3_stmt** st;
    const char* sql;
    bool read_only;
  } const stmts[] = {
      {&begin_, "BEGIN IMMEDIATE", false},
      {&commit_, "COMMIT", false},
      {&rollback_, "ROLLBACK", false},
      {&get_, "SELECT key, value, flags, create_index, modify_index, lock_index, session FROM kv WHERE key = ?1", true},
      // Consul keeps create_index, lock_index and session of an existing key on a set.
      {&upsert_,
       "INSERT INTO kv(key, value, flags, create_index, modify_index, lock_index, session) "
       "VALUES (?1, ?2, ?3, ?4, ?4, 0, NULL) ON CONFLICT(key) DO UPDATE SET value = excluded.value, "
       "flags = excluded.flags, modify_index = excluded.modify_index",
       false},
      {&delete_, "DELETE FROM kv WHERE key = ?1", false},
      {&tomb_put_, "INSERT OR REPLACE INTO kv_tombstones(key, modify_index) VALUES (?1, ?2)", false},
      {&tomb_del_, "DELETE FROM kv_tombstones WHERE key = ?1", false},
      {&tomb_tree_,
       "INSERT OR REPLACE INTO kv_tombstones(key, modify_index) SELECT key, ?3 FROM kv WHERE key >= ?1 AND key < ?2",
       false},
      {&delete_tree_, "DELETE FROM kv WHERE key >= ?1 AND key < ?2", false},
      {&set_applied_, "UPDATE meta SET value = ?1 WHERE key = 'last_applied'", false},
      {&list_,
       "SELECT key, value, flags, create_index, modify_index, lock_index, session FROM kv "
       "WHERE key >= ?1 AND key < ?2 ORDER BY key",
       true},
      {&keys_, "SELECT key FROM kv WHERE key >= ?1 AND key < ?2 ORDER BY key", true},
      {&max_index_,
       "SELECT max(m) FROM (SELECT max(modify_index) AS m FROM kv WHERE key >= ?1 AND key < ?2 "
       "UNION ALL SELECT max(modify_index) FROM kv_tombstones WHERE key >= ?1 AND key < ?2)",
       true},
  };
  for (const auto& s : stmts) {
    int rc = sqlite3_prepare_v3(db_, s.sql, -1, SQLITE_PREPARE_PERSISTENT, s.st, nullptr);
    if (rc != SQLITE_OK) return sql::error(db_, rc, s.sql);
    if (s.read_only) AGENT_ASSERT(sqlite3_stmt_readonly(*s.st) != 0);
  }
  return Status::ok();
}

Status Store::load_last_applied() {
  AGENT_ASSIGN_OR_RETURN(int64_t v, query_int(db_, "SELECT value FROM meta WHERE key = 'last_applied'"));
  last_applied_ = from_sql(v);
  return Status::ok();
}

base::Result<std::vector<ApplyResult>> Store::apply(uint64_t first_index, std::span<const std::string> commands) {
  if (failed_) return base::error(Code::kFailedPrecondition, "state store: an earlier batch failed; the process must stop");
  if (commands.empty()) return std::vector<ApplyResult>{};
  if (first_index == 0 || first_index <= last_applied_) {
    return base::error(Code::kInvalidArgument, "state store: batch at index %llu but %llu is already applied",
                       ull(first_index), ull(last_applied_));
  }
  if (commands.size() > options_.batch_commands_max) {
    return base::error(Code::kInvalidArgument, "state store: batch of %zu commands is over the limit of %zu",
                       commands.size(), options_.batch_commands_max);
  }
  uint64_t last = first_index + (commands.size() - 1);
  AGENT_TRY(step_done(db_, begin_, "begin batch"));
  std::vector<ApplyResult> results(commands.size());
  Status s;
  for (size_t i = 0; i < commands.size() && s.is_ok(); ++i) s = apply_one(first_index + i, commands[i], &results[i]);
  if (s.is_ok()) {
    sqlite3_bind_int64(set_applied_, 1, to_sql(last));
    s = step_done(db_, set_applied_, "set last_applied");
  }
  if (s.is_ok()) s = step_done(db_, commit_, "commit batch");
  if (!s.is_ok()) {
    if (sqlite3_get_autocommit(db_) == 0) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    failed_ = true;
    return s;
  }
  last_applied_ = last;
  return results;
}

// Applies one command inside the batch's transaction. A command that does not decode sets
// result->status and returns OK (the batch goes on); a SQLite failure is returned (the batch
// rolls back).
Status Store::apply_one(uint64_t index, std::string_view bytes, ApplyResult* result) {
  if (wire::is_catalog_command(bytes)) return apply_catalog(index, bytes, result);
  base::Result<wire::StateCommand> decoded = wire::decode_state_command(bytes);
  if (!decoded.is_ok()) {
    result->status = decoded.status();
    return Status::ok();
  }
  const wire::StateCommand& cmd = decoded.value();

  // The current modify index of the key (0 if absent), for the CAS variants.
  auto current_index = [&](uint64_t* modify_index) -> Status {
    bind_text(get_, 1, cmd.key);
    int rc = sqlite3_step(get_);
    *modify_index = rc == SQLITE_ROW ? from_sql(sqlite3_column_int64(get_, 4)) : 0;
    sqlite3_reset(get_);
    sqlite3_clear_bindings(get_);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? Status::ok() : sql::error(db_, rc, "read key");
  };
  auto set = [&]() -> Status {
    bind_text(upsert_, 1, cmd.key);
    if (cmd.value.empty()) {
      sqlite3_bind_zeroblob(upsert_, 2, 0);
    } else {
      sqlite3_bind_blob64(upsert_, 2, cmd.value.data(), cmd.value.size(), SQLITE_TRANSIENT);
    }
    sqlite3_bind_int64(upsert_, 3, to_sql(cmd.flags));
    sqlite3_bind_int64(upsert_, 4, to_sql(index));
    AGENT_TRY(step_done(db_, upsert_, "set key"));
    bind_text(tomb_del_, 1, cmd.key);
    return step_done(db_, tomb_del_, "clear tombstone");
  };
  auto del = [&]() -> Status {
    bind_text(delete_, 1, cmd.key);
    AGENT_TRY(step_done(db_, delete_, "delete key"));
    if (sqlite3_changes(db_) == 0) return Status::ok();
    bind_text(tomb_put_, 1, cmd.key);
    sqlite3_bind_int64(tomb_put_, 2, to_sql(index));
    return step_done(db_, tomb_put_, "write tombstone");
  };

  uint64_t have = 0;
  switch (cmd.type) {
    case StateCommandType::kKvSet:
      result->value = true;
      return set();
    case StateCommandType::kKvCas:
      // Consul: index 0 sets only if the key is absent; otherwise only if its modify index matches.
      AGENT_TRY(current_index(&have));
      result->value = have == cmd.index;
      return result->value ? set() : Status::ok();
    case StateCommandType::kKvDelete:
      result->value = true;
      return del();
    case StateCommandType::kKvDeleteCas:
      // Consul's kvsDeleteCASTxn: an absent key is a success (nothing to delete); a present one is
      // deleted only if its modify index matches.
      AGENT_TRY(current_index(&have));
      result->value = have == 0 || have == cmd.index;
      return have != 0 && have == cmd.index ? del() : Status::ok();
    case StateCommandType::kKvDeleteTree:
      result->value = true;
      bind_text(tomb_tree_, 1, cmd.key);
      bind_prefix_end(tomb_tree_, 2, cmd.key);
      sqlite3_bind_int64(tomb_tree_, 3, to_sql(index));
      AGENT_TRY(step_done(db_, tomb_tree_, "write tombstones"));
      bind_text(delete_tree_, 1, cmd.key);
      bind_prefix_end(delete_tree_, 2, cmd.key);
      return step_done(db_, delete_tree_, "delete tree");
  }
  AGENT_ASSERT(false);  // decode_state_command() returns only known types
  return Status::ok();
}

base::Result<std::optional<KvEntry>> Store::get(std::string_view key) const {
  bind_text(get_, 1, key);
  int rc = sqlite3_step(get_);
  std::optional<KvEntry> out;
  if (rc == SQLITE_ROW) out = read_entry(get_);
  Status s = rc == SQLITE_ROW || rc == SQLITE_DONE ? Status::ok() : sql::error(db_, rc, "get");
  sqlite3_reset(get_);
  sqlite3_clear_bindings(get_);
  if (!s.is_ok()) return s;
  return out;
}

base::Result<std::vector<KvEntry>> Store::list(std::string_view prefix) const {
  bind_text(list_, 1, prefix);
  bind_prefix_end(list_, 2, prefix);
  std::vector<KvEntry> out;
  int rc;
  while ((rc = sqlite3_step(list_)) == SQLITE_ROW) out.push_back(read_entry(list_));
  Status s = rc == SQLITE_DONE ? Status::ok() : sql::error(db_, rc, "list");
  sqlite3_reset(list_);
  sqlite3_clear_bindings(list_);
  if (!s.is_ok()) return s;
  return out;
}

base::Result<std::vector<std::string>> Store::keys(std::string_view prefix, std::string_view separator) const {
  bind_text(keys_, 1, prefix);
  bind_prefix_end(keys_, 2, prefix);
  std::vector<std::string> out;
  int rc;
  while ((rc = sqlite3_step(keys_)) == SQLITE_ROW) {
    std::string key = column_string(keys_, 0);
    // Consul (kvsListKeysTxn): after the prefix, cut just past the first separator; keys come in
    // order, so the duplicates a cut makes are adjacent.
    if (!separator.empty()) {
      size_t at = key.find(separator, prefix.size());
      if (at != std::string::npos) key.resize(at + separator.size());
    }
    if (out.empty() || out.back() != key) out.push_back(std::move(key));
  }
  Status s = rc == SQLITE_DONE ? Status::ok() : sql::error(db_, rc, "keys");
  sqlite3_reset(keys_);
  sqlite3_clear_bindings(keys_);
  if (!s.is_ok()) return s;
  return out;
}

base::Result<uint64_t> Store::prefix_index(std::string_view prefix) const {
  bind_text(max_index_, 1, prefix);
  bind_prefix_end(max_index_, 2, prefix);
  int rc = sqlite3_step(max_index_);
  uint64_t v = 0;
  if (rc == SQLITE_ROW && sqlite3_column_type(max_index_, 0) == SQLITE_INTEGER) v = from_sql(sqlite3_column_int64(max_index_, 0));
  Status s = rc == SQLITE_ROW ? Status::ok() : sql::error(db_, rc, "prefix index");
  sqlite3_reset(max_index_);
  sqlite3_clear_bindings(max_index_);
  if (!s.is_ok()) return s;
  return v != 0 ? v : last_applied_;
}

base::Result<std::string> Store::snapshot() const {
  base::Result<std::string> r = snapshot_unsealed();
  if (r.is_ok()) seal_snapshot(&r.value());
  return r;
}

base::Result<std::string> Store::snapshot_unsealed() const {
  if (failed_) return base::error(Code::kFailedPrecondition, "state store: an earlier batch failed; the process must stop");
  sqlite3_int64 size = 0;
  unsigned char* image = sqlite3_serialize(db_, "main", &size, 0);
  if (image == nullptr) return base::error(Code::kIo, "state store: serialize failed: %s", sqlite3_errmsg(db_));
  std::string out;
  base::ByteWriter w(&out, kSnapshotHeaderBytes + static_cast<size_t>(size));
  w.raw(std::string_view(kSnapshotMagic, sizeof kSnapshotMagic));
  w.u32(kSnapshotFormat);
  w.u64(static_cast<uint64_t>(kSchemaVersion));
  w.u64(last_applied_);
  w.u64(static_cast<uint64_t>(size));
  w.raw(std::string(hal::crypto::kSha256Bytes, '\0'));
  w.raw(base::ByteSpan(image, static_cast<size_t>(size)));
  sqlite3_free(image);
  AGENT_ASSERT(w.ok());
  // File format bytes 18 and 19 say WAL (2); the image is opened in memory, where WAL is not
  // available, so it is marked as a rollback-journal database (1). The backup into the live WAL
  // database sets them back.
  char* img = out.data() + kSnapshotHeaderBytes;
  if (size >= 20) img[18] = img[19] = 1;
  return out;
}

void Store::seal_snapshot(std::string* snapshot) {
  AGENT_ASSERT(snapshot->size() >= kSnapshotHeaderBytes);
  hal::crypto::Digest d = snapshot_digest(*snapshot);
  std::memcpy(snapshot->data() + kSnapshotDigestAt, d.data(), d.size());
}

Status Store::restore(std::string_view snap) {
  if (failed_) return base::error(Code::kFailedPrecondition, "state store: an earlier batch failed; the process must stop");
  if (snap.size() < kSnapshotHeaderBytes) return base::error(Code::kInvalidArgument, "snapshot: %zu bytes is shorter than its header", snap.size());
  if (snap.size() > options_.snapshot_bytes_max) {
    return base::error(Code::kInvalidArgument, "snapshot: %zu bytes is over the limit of %zu", snap.size(), options_.snapshot_bytes_max);
  }
  if (std::memcmp(snap.data(), kSnapshotMagic, sizeof kSnapshotMagic) != 0) return base::error(Code::kInvalidArgument, "snapshot: bad magic");
  base::ByteReader r(snap.substr(sizeof kSnapshotMagic));
  uint32_t format = r.u32();
  uint64_t schema = r.u64();
  uint64_t applied = r.u64();
  uint64_t image_bytes = r.u64();
  AGENT_ASSERT(r.ok());  // the length was checked above
  if (format != kSnapshotFormat) return base::error(Code::kInvalidArgument, "snapshot: unknown format %u", format);
  if (image_bytes != snap.size() - kSnapshotHeaderBytes) {
    return base::error(Code::kInvalidArgument, "snapshot: header says %llu image bytes, %zu follow", ull(image_bytes),
                       snap.size() - kSnapshotHeaderBytes);
  }
  std::string_view image = snap.substr(kSnapshotHeaderBytes);
  hal::crypto::Digest d = snapshot_digest(snap);
  if (std::memcmp(d.data(), snap.data() + kSnapshotDigestAt, d.size()) != 0) {
    return base::error(Code::kInvalidArgument, "snapshot: SHA-256 mismatch (corrupt or truncated)");
  }
  if (schema > static_cast<uint64_t>(kSchemaVersion)) {
    return base::error(Code::kFailedPrecondition, "snapshot: schema version %llu is newer than this agent understands (%lld)",
                       ull(schema), static_cast<long long>(kSchemaVersion));
  }
  if (schema < 1) return base::error(Code::kFailedPrecondition, "snapshot: schema version %llu is not valid", ull(schema));
  if (image.empty()) return base::error(Code::kInvalidArgument, "snapshot: empty image");
  {
    // The database header's text encoding (offset 56, big-endian; 1 = UTF-8, which this store
    // writes) is not part of the schema text: an image whose header says UTF-16 passes every check
    // below, and once copied over the live database this connection can read none of it (found
    // by state_snapshot_fuzz).
    const auto* h = reinterpret_cast<const unsigned char*>(image.data());
    if (image.size() < 100 || h[56] != 0 || h[57] != 0 || h[58] != 0 || h[59] != 1) {
      return base::error(Code::kFailedPrecondition, "snapshot: the image's text encoding is not UTF-8");
    }
  }

  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(":memory:", &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  DbOwner mem(raw);
  if (rc != SQLITE_OK) return sql::error(raw, rc, "open snapshot image");
  auto* buf = static_cast<unsigned char*>(sqlite3_malloc64(image.size()));
  if (buf == nullptr) return base::error(Code::kResourceExhausted, "snapshot: out of memory for %zu bytes", image.size());
  std::memcpy(buf, image.data(), image.size());
  // Writable (and so resizeable) only so that an image of schema version 1 can be migrated here,
  // in memory, before it is compared and copied; the caller's bytes are never written.
  rc = sqlite3_deserialize(mem.get(), "main", buf, static_cast<sqlite3_int64>(image.size()),
                           static_cast<sqlite3_int64>(image.size()),
                           SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_RESIZEABLE);  // frees buf on error too
  if (rc != SQLITE_OK) return sql::error(mem.get(), rc, "deserialize snapshot image");
  base::Result<std::string> qc = query_text(mem.get(), "PRAGMA quick_check(1)");
  if (!qc.is_ok() || qc.value() != "ok") {
    return base::error(Code::kFailedPrecondition, "snapshot: quick_check failed: %s",
                       qc.is_ok() ? qc.value().c_str() : qc.status().message().c_str());
  }
  base::Result<int64_t> version = check_schema(mem.get());
  if (!version.is_ok()) return base::error(Code::kFailedPrecondition, "snapshot: %s", version.status().message().c_str());
  if (static_cast<uint64_t>(version.value()) != schema) {
    return base::error(Code::kFailedPrecondition, "snapshot: header says schema version %llu, the image %lld", ull(schema),
                       static_cast<long long>(version.value()));
  }
  if (version.value() < kSchemaVersion) {
    // A snapshot taken before the upgrade (the host's snapshot file, or a leader not yet upgraded).
    // Its own triggers would run during the copy: an image with any is refused first (the schema
    // comparison below would refuse it anyway).
    AGENT_ASSIGN_OR_RETURN(int64_t extra, query_int(mem.get(), "SELECT count(*) FROM sqlite_master WHERE type IN ('trigger', 'view')"));
    if (extra != 0) return base::error(Code::kFailedPrecondition, "snapshot: its schema differs from this agent's (a trigger or view)");
    AGENT_TRY(exec(mem.get(), "PRAGMA temp_store=MEMORY", "temp_store"));
    AGENT_TRY(exec(mem.get(), "BEGIN IMMEDIATE", "begin migration"));
    Status m = migrate(mem.get(), version.value());
    if (!m.is_ok()) {
      sqlite3_exec(mem.get(), "ROLLBACK", nullptr, nullptr, nullptr);
      return base::error(Code::kFailedPrecondition, "snapshot: migrating its schema version %lld: %s",
                         static_cast<long long>(version.value()), m.message().c_str());
    }
    AGENT_TRY(exec(mem.get(), "COMMIT", "commit migration"));
  }
  {
    AGENT_ASSIGN_OR_RETURN(std::string want, schema_text(db_));
    base::Result<std::string> have = schema_text(mem.get());
    if (!have.is_ok() || have.value() != want) {
      return base::error(Code::kFailedPrecondition,
                         "snapshot: its schema differs from this agent's (a table, column, index or trigger)");
    }
  }
  AGENT_ASSIGN_OR_RETURN(int64_t image_applied, query_int(mem.get(), "SELECT value FROM meta WHERE key = 'last_applied'"));
  if (from_sql(image_applied) != applied) {
    return base::error(Code::kFailedPrecondition, "snapshot: header says last applied %llu, the image %llu", ull(applied),
                       ull(from_sql(image_applied)));
  }

  {
    // The backup cannot copy between page sizes into a WAL database (it fails with
    // SQLITE_READONLY, which would read as an I/O error); every store uses SQLite's default, so an
    // image with another is not one of ours.
    AGENT_ASSIGN_OR_RETURN(int64_t want, query_int(db_, "PRAGMA page_size"));
    AGENT_ASSIGN_OR_RETURN(int64_t have, query_int(mem.get(), "PRAGMA page_size"));
    if (have != want) {
      return base::error(Code::kFailedPrecondition, "snapshot: its page size is %lld bytes, this store's %lld",
                         static_cast<long long>(have), static_cast<long long>(want));
    }
  }
  // Only now touch the live database: the backup copies every page in one write transaction, so it
  // either replaces the whole state or (on error) leaves it as it was.
  sqlite3_backup* b = sqlite3_backup_init(db_, "main", mem.get(), "main");
  if (b == nullptr) return sql::error(db_, sqlite3_errcode(db_), "start restore");
  rc = sqlite3_backup_step(b, -1);
  int frc = sqlite3_backup_finish(b);
  if (rc != SQLITE_DONE) return sql::error(db_, rc, "restore");
  if (frc != SQLITE_OK) return sql::error(db_, frc, "finish restore");
  return load_last_applied();
}

}  // namespace state
