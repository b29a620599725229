#include "agent/sql/sql.h"

namespace sql {

using base::Code;
using base::Status;

Status error(sqlite3* db, int rc, const char* what) {
  return base::error(Code::kIo, "sqlite: %s: %s (sqlite error %d)", what,
                     db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc), rc);
}

Status exec(sqlite3* db, const char* sql, const char* what) {
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return error(db, rc, what);
  return Status::ok();
}

Status step_done(sqlite3* db, sqlite3_stmt* st, const char* what) {
  int rc = sqlite3_step(st);
  Status s = rc == SQLITE_DONE ? Status::ok() : error(db, rc, what);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return s;
}

base::Result<std::string> query_text(sqlite3* db, const char* sql) {
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, nullptr);
  if (rc != SQLITE_OK) return error(db, rc, sql);
  std::string out;
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    const unsigned char* t = sqlite3_column_text(st, 0);
    if (t != nullptr) out = reinterpret_cast<const char*>(t);
  } else if (rc != SQLITE_DONE) {
    Status s = error(db, rc, sql);
    sqlite3_finalize(st);
    return s;
  }
  sqlite3_finalize(st);
  return out;
}

base::Result<int64_t> query_int(sqlite3* db, const char* sql) {
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, nullptr);
  if (rc != SQLITE_OK) return error(db, rc, sql);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_INTEGER) {
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
  }
  Status s = rc == SQLITE_ROW || rc == SQLITE_DONE ? base::error(Code::kNotFound, "%s: no integer row", sql)
                                                    : error(db, rc, sql);
  sqlite3_finalize(st);
  return s;
}

}  // namespace sql
