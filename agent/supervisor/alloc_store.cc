// See alloc_store.h.
#include "agent/supervisor/alloc_store.h"

#include <sqlite3.h>

#include "agent/sql/sql.h"

namespace supervisor {

namespace {

constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS allocs_v2 ("
    " id TEXT PRIMARY KEY, name TEXT NOT NULL, source TEXT NOT NULL, desired TEXT NOT NULL,"
    " client_status TEXT NOT NULL, job_json TEXT NOT NULL, group_name TEXT NOT NULL,"
    " idx INTEGER NOT NULL, tasks_json TEXT NOT NULL, create_ns INTEGER NOT NULL,"
    " modify_ns INTEGER NOT NULL, network_json TEXT NOT NULL DEFAULT '') WITHOUT ROWID";

std::string column_text(sqlite3_stmt* st, int i) {
  const unsigned char* p = sqlite3_column_text(st, i);
  return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(st, i));
}

}  // namespace

base::Result<std::unique_ptr<AllocStore>> AllocStore::open(const std::string& path, const std::string& vfs) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           vfs.empty() ? nullptr : vfs.c_str());
  std::unique_ptr<AllocStore> store(new AllocStore(db));
  if (rc != SQLITE_OK) return sql::error(db, rc, "open the allocation store");
  // Exclusive locking, as the Raft and state stores: one agent owns the file, and WAL then needs
  // no shared-memory file (the simulator's VFS has none).
  AGENT_TRY(sql::exec(db, "PRAGMA locking_mode=EXCLUSIVE", "locking_mode"));
  AGENT_ASSIGN_OR_RETURN(std::string mode, sql::query_text(db, "PRAGMA journal_mode=WAL"));
  if (mode != "wal") return base::error(base::Code::kIo, "allocation store: journal_mode=WAL refused (mode is '%s')", mode.c_str());
  AGENT_TRY(sql::exec(db, "PRAGMA synchronous=NORMAL", "synchronous"));
  AGENT_TRY(sql::exec(db, kSchema, "schema"));
  // A file from before allocations had networks.
  // A file from before allocations had networks has its rows in `allocs`: they move, in one
  // transaction, with no network (the build omits ALTER TABLE, see tools/sqlite.options).
  sqlite3_stmt* probe = nullptr;
  const bool old_table = sqlite3_prepare_v2(db, "SELECT id FROM allocs LIMIT 0", -1, &probe, nullptr) == SQLITE_OK;
  sqlite3_finalize(probe);
  if (old_table) {
    base::Status moved = sql::exec(db,
                                   "BEGIN; INSERT OR IGNORE INTO allocs_v2 SELECT id, name, source, desired, client_status,"
                                   " job_json, group_name, idx, tasks_json, create_ns, modify_ns, '' FROM allocs;"
                                   " DROP TABLE allocs; COMMIT",
                                   "move allocations to allocs_v2");
    if (!moved.is_ok()) {
      sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      return moved;
    }
  }
  rc = sqlite3_prepare_v2(db,
                          "INSERT OR REPLACE INTO allocs_v2 (id, name, source, desired, client_status, job_json,"
                          " group_name, idx, tasks_json, create_ns, modify_ns, network_json) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                          -1, &store->put_, nullptr);
  if (rc != SQLITE_OK) return sql::error(db, rc, "prepare put");
  rc = sqlite3_prepare_v2(db, "DELETE FROM allocs_v2 WHERE id = ?", -1, &store->remove_, nullptr);
  if (rc != SQLITE_OK) return sql::error(db, rc, "prepare remove");
  return store;
}

AllocStore::~AllocStore() {
  sqlite3_finalize(put_);
  sqlite3_finalize(remove_);
  sqlite3_close_v2(db_);
}

base::Result<std::vector<AllocRecord>> AllocStore::load() {
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v2(db_,
                              "SELECT id, name, source, desired, client_status, job_json, group_name, idx,"
                              " tasks_json, create_ns, modify_ns, network_json FROM allocs_v2 ORDER BY create_ns, id",
                              -1, &st, nullptr);
  if (rc != SQLITE_OK) return sql::error(db_, rc, "prepare load");
  std::vector<AllocRecord> out;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW && out.size() < kAllocsMax) {
    AllocRecord r;
    r.id = column_text(st, 0);
    r.name = column_text(st, 1);
    r.source = column_text(st, 2);
    r.desired = column_text(st, 3);
    r.client_status = column_text(st, 4);
    r.job_json = column_text(st, 5);
    r.group = column_text(st, 6);
    r.index = static_cast<int32_t>(sqlite3_column_int64(st, 7));
    r.tasks_json = column_text(st, 8);
    r.create_unix_ns = sqlite3_column_int64(st, 9);
    r.modify_unix_ns = sqlite3_column_int64(st, 10);
    r.network_json = column_text(st, 11);
    out.push_back(std::move(r));
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sql::error(db_, rc, "load allocations");
  return out;
}

base::Status AllocStore::put(const AllocRecord& r) {
  auto text = [&](int i, const std::string& s) {
    return sqlite3_bind_text(put_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
  };
  int rc = text(1, r.id);
  if (rc == SQLITE_OK) rc = text(2, r.name);
  if (rc == SQLITE_OK) rc = text(3, r.source);
  if (rc == SQLITE_OK) rc = text(4, r.desired);
  if (rc == SQLITE_OK) rc = text(5, r.client_status);
  if (rc == SQLITE_OK) rc = text(6, r.job_json);
  if (rc == SQLITE_OK) rc = text(7, r.group);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(put_, 8, r.index);
  if (rc == SQLITE_OK) rc = text(9, r.tasks_json);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(put_, 10, r.create_unix_ns);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(put_, 11, r.modify_unix_ns);
  if (rc == SQLITE_OK) rc = text(12, r.network_json);
  if (rc != SQLITE_OK) {
    sqlite3_reset(put_);
    sqlite3_clear_bindings(put_);
    return sql::error(db_, rc, "bind allocation");
  }
  return sql::step_done(db_, put_, "put allocation");
}

base::Status AllocStore::remove(const std::string& id) {
  int rc = sqlite3_bind_text(remove_, 1, id.data(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) return sql::error(db_, rc, "bind id");
  return sql::step_done(db_, remove_, "remove allocation");
}

}  // namespace supervisor
