// Small helpers over Debian's SQLite shared by every module that keeps a database (raft/sqlite,
// state): errors as Status, statements that return no rows, one-value queries, and the
// unsigned <-> SQLite INTEGER conversions. Blocking: call them where blocking is allowed (the
// worker pool, or open/restore paths), never on the loop thread's hot path.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>

#include "agent/base/status.h"

namespace sql {

// SQLite INTEGER is signed 64-bit; indexes and terms are unsigned and stored bit for bit.
inline int64_t to_sql(uint64_t v) { return static_cast<int64_t>(v); }
inline uint64_t from_sql(int64_t v) { return static_cast<uint64_t>(v); }

// kIo: "sqlite: <what>: <SQLite's message> (sqlite error <rc>)"; db may be null (then the code's
// generic text is used).
base::Status error(sqlite3* db, int rc, const char* what);

// Runs statements that return no rows (schema, pragmas, BEGIN/COMMIT).
base::Status exec(sqlite3* db, const char* sql, const char* what);

// Steps a prepared statement that returns no rows, then resets it and clears its bindings for
// its next use.
base::Status step_done(sqlite3* db, sqlite3_stmt* st, const char* what);

// Runs `sql` and returns the first row's first column as text ("" if there is no row).
base::Result<std::string> query_text(sqlite3* db, const char* sql);

// Runs `sql` and returns the first row's first column, which must be an INTEGER; kNotFound if
// there is no row or the value is not an integer (a corrupt or foreign file).
base::Result<int64_t> query_int(sqlite3* db, const char* sql);

}  // namespace sql
