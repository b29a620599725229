// SqliteStorage: see sqlite_storage.h for the file's layout, the transaction per Ready and the
// contract on errors.
#include "agent/raft/sqlite/sqlite_storage.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "agent/sql/sql.h"

namespace raft {

namespace {

using base::Code;
using base::Status;
using sql::exec;
using sql::from_sql;
using sql::query_int;
using sql::query_text;
using sql::step_done;
using sql::to_sql;

constexpr size_t kEntryBytesLimit = size_t{1} << 30;  // SQLite's default blob limit is 1e9 bytes

unsigned long long ull(uint64_t v) { return static_cast<unsigned long long>(v); }

Status corrupt(const char* fmt, unsigned long long a = 0, unsigned long long b = 0,
               unsigned long long c = 0) {
  char buf[256];
  // The format is always one of ours with up to three %llu.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
  snprintf(buf, sizeof buf, fmt, a, b, c);
#pragma GCC diagnostic pop
  return base::error(Code::kFailedPrecondition, "raft storage: corrupt database: %s", buf);
}

bool known_type(int64_t t) {
  return t == static_cast<int64_t>(wire::EntryType::kCommand) || t == static_cast<int64_t>(wire::EntryType::kNoop) ||
         t == static_cast<int64_t>(wire::EntryType::kConfig);
}

constexpr const char* kCreateSchema =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE hard_state(id INTEGER PRIMARY KEY CHECK (id = 1), term INTEGER NOT NULL,"
    "  voted_for INTEGER NOT NULL);"
    "CREATE TABLE log(idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, type INTEGER NOT NULL,"
    "  data BLOB NOT NULL);"
    "CREATE TABLE log_start_config(id INTEGER PRIMARY KEY CHECK (id = 1), data BLOB NOT NULL);"
    "INSERT INTO log_start_config(id, data) VALUES (1, x'010000');"
    "INSERT INTO meta(key, value) VALUES ('schema_version', 3), ('snapshot_index', 0), ('snapshot_term', 0);";

// Version 1 -> 2 (log compaction): the log start is recorded in meta; a version-1 log starts at
// index 1, i.e. after {0, 0}. Run inside the open's schema transaction, so it is all or nothing.
constexpr const char* kMigrateV1ToV2 =
    "INSERT INTO meta(key, value) VALUES ('snapshot_index', 0), ('snapshot_term', 0);"
    "UPDATE meta SET value = 2 WHERE key = 'schema_version';";

// Version 2 -> 3 (membership changes, chapter 4): the configuration as of the log start; none
// recorded (x'010000' is encode_raft_membership of no voters and no learners), so the bootstrap
// configuration or the log's configuration entries apply as before.
constexpr const char* kMigrateV2ToV3 =
    "CREATE TABLE log_start_config(id INTEGER PRIMARY KEY CHECK (id = 1), data BLOB NOT NULL);"
    "INSERT INTO log_start_config(id, data) VALUES (1, x'010000');"
    "UPDATE meta SET value = 3 WHERE key = 'schema_version';";

}  // namespace

SqliteStorage::SqliteStorage(sqlite3* db, SqliteStorageOptions options) : db_(db), options_(options) {}

SqliteStorage::~SqliteStorage() {
  // Whatever was not synced is not durable and must not become so by accident.
  if (db_ != nullptr && sqlite3_get_autocommit(db_) == 0) {
    if (rollback_ != nullptr) {
      sqlite3_step(rollback_);
    } else {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
  }
  for (sqlite3_stmt* st : {begin_, commit_, rollback_, save_hs_, truncate_, insert_, select_, term_at_, save_start_,
                           delete_prefix_, save_start_config_, config_at_}) {
    sqlite3_finalize(st);  // no-op on nullptr
  }
  sqlite3_close_v2(db_);
}

base::Result<std::unique_ptr<SqliteStorage>> SqliteStorage::open(const std::string& path,
                                                                 const SqliteStorageOptions& options) {
  if (options.entry_bytes_max == 0 || options.entry_bytes_max > kEntryBytesLimit) {
    return base::error(Code::kInvalidArgument, "raft storage: entry_bytes_max %zu out of range (1..%zu)",
                       options.entry_bytes_max, kEntryBytesLimit);
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           options.vfs.empty() ? nullptr : options.vfs.c_str());
  if (rc != SQLITE_OK) {
    Status s = base::error(Code::kIo, "raft storage: open %s: %s", path.c_str(),
                           db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close_v2(db);
    return s;
  }
  std::unique_ptr<SqliteStorage> st(new SqliteStorage(db, options));
  Status s = st->init();
  if (!s.is_ok()) return base::error(s.code(), "%s (%s)", s.message().c_str(), path.c_str());
  return st;
}

Status SqliteStorage::init() {
  sqlite3_extended_result_codes(db_, 1);
  // One process owns a server's log: a second opener (another agent on the same data dir) gets
  // "database is locked" at once instead of interleaving writes.
  AGENT_TRY(exec(db_, "PRAGMA locking_mode=EXCLUSIVE", "locking_mode"));
  AGENT_ASSIGN_OR_RETURN(std::string mode, query_text(db_, "PRAGMA journal_mode=WAL"));
  if (mode != "wal") return base::error(Code::kIo, "raft storage: journal_mode=WAL refused (mode is '%s')", mode.c_str());
  AGENT_TRY(exec(db_, "PRAGMA synchronous=FULL", "synchronous"));
  AGENT_ASSIGN_OR_RETURN(int64_t sync_level, query_int(db_, "PRAGMA synchronous"));
  if (sync_level != 2) return base::error(Code::kIo, "raft storage: synchronous=FULL refused (%lld)", static_cast<long long>(sync_level));
  AGENT_TRY(exec(db_, "PRAGMA cell_size_check=ON", "cell_size_check"));
  if (options_.quick_check) {
    AGENT_ASSIGN_OR_RETURN(std::string qc, query_text(db_, "PRAGMA quick_check(1)"));
    if (qc != "ok") return base::error(Code::kFailedPrecondition, "raft storage: quick_check failed: %s", qc.c_str());
  }
  AGENT_TRY(create_or_check_schema());
  AGENT_TRY(prepare_all());
  return load_and_validate();
}

Status SqliteStorage::create_or_check_schema() {
  AGENT_TRY(exec(db_, "BEGIN IMMEDIATE", "begin"));
  Status s = [&]() -> Status {
    AGENT_ASSIGN_OR_RETURN(int64_t has_meta,
                           query_int(db_, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'"));
    if (has_meta == 0) {
      AGENT_ASSIGN_OR_RETURN(int64_t objects, query_int(db_, "SELECT count(*) FROM sqlite_master"));
      if (objects != 0) return base::error(Code::kFailedPrecondition, "raft storage: not a raft log database (no meta table)");
      return exec(db_, kCreateSchema, "create schema");
    }
    base::Result<int64_t> v = query_int(db_, "SELECT value FROM meta WHERE key = 'schema_version'");
    if (!v.is_ok()) {
      if (v.status().code() == Code::kNotFound) return corrupt("meta has no schema_version");
      return v.status();
    }
    if (v.value() > kSchemaVersion) {
      return base::error(Code::kFailedPrecondition,
                         "raft storage: schema version %lld is newer than this agent understands (%lld); refusing to "
                         "open it (was it written by a newer agent?)",
                         static_cast<long long>(v.value()), static_cast<long long>(kSchemaVersion));
    }
    if (v.value() < 1) return corrupt("schema_version %llu is not a valid version", ull(from_sql(v.value())));
    if (v.value() == 1) {
      AGENT_TRY(exec(db_, kMigrateV1ToV2, "migrate schema 1 to 2"));
      migrated_from_ = 1;
    }
    if (v.value() <= 2) {
      AGENT_TRY(exec(db_, kMigrateV2ToV3, "migrate schema 2 to 3"));
      if (migrated_from_ == 0) migrated_from_ = 2;
    }
    return Status::ok();
  }();
  if (!s.is_ok()) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return s;
  }
  return exec(db_, "COMMIT", "commit schema");
}

Status SqliteStorage::prepare_all() {
  struct {
    sqlite3_stmt** st;
    const char* sql;
  } const stmts[] = {
      {&begin_, "BEGIN IMMEDIATE"},
      {&commit_, "COMMIT"},
      {&rollback_, "ROLLBACK"},
      {&save_hs_, "INSERT OR REPLACE INTO hard_state(id, term, voted_for) VALUES (1, ?1, ?2)"},
      {&truncate_, "DELETE FROM log WHERE idx >= ?1"},
      {&insert_, "INSERT INTO log(idx, term, type, data) VALUES (?1, ?2, ?3, ?4)"},
      {&select_, "SELECT idx, term, type, data FROM log WHERE idx >= ?1 AND idx <= ?2 ORDER BY idx"},
      {&term_at_, "SELECT term FROM log WHERE idx = ?1"},
      {&save_start_, "INSERT OR REPLACE INTO meta(key, value) VALUES ('snapshot_index', ?1), ('snapshot_term', ?2)"},
      {&delete_prefix_, "DELETE FROM log WHERE idx <= ?1"},
      {&save_start_config_, "INSERT OR REPLACE INTO log_start_config(id, data) VALUES (1, ?1)"},
      {&config_at_, "SELECT data FROM log WHERE type = 2 AND idx <= ?1 ORDER BY idx DESC LIMIT 1"},
  };
  for (const auto& s : stmts) {
    int rc = sqlite3_prepare_v3(db_, s.sql, -1, SQLITE_PREPARE_PERSISTENT, s.st, nullptr);
    if (rc != SQLITE_OK) return sql::error(db_, rc, s.sql);
  }
  return Status::ok();
}

Status SqliteStorage::load_and_validate() {
  // Hard state: zero or one row, id 1.
  {
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v2(db_, "SELECT id, term, voted_for FROM hard_state", -1, &st, nullptr);
    if (rc != SQLITE_OK) return sql::error(db_, rc, "read hard_state");
    int rows = 0;
    Status s;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      if (++rows > 1 || sqlite3_column_int64(st, 0) != 1) {
        s = corrupt("hard_state has more than one row or a row with id != 1");
        break;
      }
      if (sqlite3_column_type(st, 1) != SQLITE_INTEGER || sqlite3_column_type(st, 2) != SQLITE_INTEGER) {
        s = corrupt("hard_state holds a non-integer term or vote");
        break;
      }
      hs_.term = from_sql(sqlite3_column_int64(st, 1));
      hs_.voted_for = from_sql(sqlite3_column_int64(st, 2));
    }
    if (s.is_ok() && rc != SQLITE_DONE) s = sql::error(db_, rc, "read hard_state");
    sqlite3_finalize(st);
    AGENT_TRY(std::move(s));
  }
  // Where the log starts (§5.1): both present, integers, both zero or both non-zero, the term at
  // most the current term.
  {
    int64_t v[2] = {0, 0};
    const char* keys[2] = {"snapshot_index", "snapshot_term"};
    for (int k = 0; k < 2; ++k) {
      sqlite3_stmt* q = nullptr;
      int rc = sqlite3_prepare_v2(db_, "SELECT value, typeof(value) FROM meta WHERE key = ?1", -1, &q, nullptr);
      if (rc != SQLITE_OK) return sql::error(db_, rc, "read meta");
      sqlite3_bind_text(q, 1, keys[k], -1, SQLITE_STATIC);
      rc = sqlite3_step(q);
      Status s;
      if (rc == SQLITE_ROW) {
        const unsigned char* t = sqlite3_column_text(q, 1);
        v[k] = sqlite3_column_int64(q, 0);
        if (t == nullptr || std::strcmp(reinterpret_cast<const char*>(t), "integer") != 0 || v[k] < 0) {
          s = corrupt(k == 0 ? "meta snapshot_index is not a valid index" : "meta snapshot_term is not a valid term");
        }
      } else if (rc == SQLITE_DONE) {
        s = corrupt(k == 0 ? "meta has no snapshot_index" : "meta has no snapshot_term");
      } else {
        s = sql::error(db_, rc, "read meta");
      }
      sqlite3_finalize(q);
      AGENT_TRY(std::move(s));
    }
    start_ = SnapshotMeta{from_sql(v[0]), from_sql(v[1])};
    if ((start_.index == 0) != (start_.term == 0)) return corrupt("the log start has index %llu but term %llu", ull(start_.index), ull(start_.term));
    if (start_.term > hs_.term) {
      return corrupt("the log start has term %llu, above the stored current term %llu", ull(start_.term), ull(hs_.term));
    }
  }
  // The configuration as of the log start (chapter 4): exactly one row, id 1, a blob that
  // decodes; none recorded (no voter) unless the log starts after a snapshot.
  {
    sqlite3_stmt* q = nullptr;
    int rc = sqlite3_prepare_v2(db_, "SELECT id, typeof(data), data FROM log_start_config", -1, &q, nullptr);
    if (rc != SQLITE_OK) return sql::error(db_, rc, "read log_start_config");
    int rows = 0;
    Status s;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
      const unsigned char* t = sqlite3_column_text(q, 1);
      if (++rows > 1 || sqlite3_column_int64(q, 0) != 1) {
        s = corrupt("log_start_config has more than one row or a row with id != 1");
        break;
      }
      if (t == nullptr || std::strcmp(reinterpret_cast<const char*>(t), "blob") != 0) {
        s = corrupt("log_start_config's data is not a blob");
        break;
      }
      const void* p = sqlite3_column_blob(q, 2);
      const int n = sqlite3_column_bytes(q, 2);
      if (n < 0 || static_cast<size_t>(n) > wire::kMembershipBytesMax ||
          !wire::decode_raft_membership(std::string_view(static_cast<const char*>(p), p ? size_t(n) : 0), &start_.config)
               .is_ok()) {
        s = corrupt("log_start_config holds an invalid configuration");
        break;
      }
    }
    if (s.is_ok() && rc != SQLITE_DONE) s = sql::error(db_, rc, "read log_start_config");
    if (s.is_ok() && rows != 1) s = corrupt("log_start_config has no row");
    sqlite3_finalize(q);
    AGENT_TRY(std::move(s));
    if (start_.index == 0 && (!start_.config.voters.empty() || !start_.config.learners.empty())) {
      return corrupt("a configuration is recorded for a log that starts at index 0");
    }
  }
  // Log: indexes start + 1, start + 2, ... with terms that never decrease (from the start's) and
  // never pass the current term (Figure 3.1's invariants that RaftCore's constructor asserts);
  // data bounded.
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v2(db_, "SELECT idx, term, type, typeof(data), length(data) FROM log ORDER BY idx", -1,
                              &st, nullptr);
  if (rc != SQLITE_OK) return sql::error(db_, rc, "read log");
  Index prev_index = start_.index;
  Term prev_term = start_.term;
  Status s;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    Index idx = from_sql(sqlite3_column_int64(st, 0));
    Term term = from_sql(sqlite3_column_int64(st, 1));
    int64_t type = sqlite3_column_int64(st, 2);
    const unsigned char* data_type = sqlite3_column_text(st, 3);
    uint64_t bytes = from_sql(sqlite3_column_int64(st, 4));
    if (idx != prev_index + 1) {
      s = prev_index == start_.index ? corrupt("the log starts at index %llu, not %llu", ull(idx), ull(start_.index + 1))
                          : corrupt("the log has a gap: index %llu follows index %llu", ull(idx), ull(prev_index));
    } else if (sqlite3_column_type(st, 1) != SQLITE_INTEGER || term == 0 || static_cast<int64_t>(term) < 0) {
      s = corrupt("entry %llu has an invalid term", ull(idx));
    } else if (term < prev_term) {
      s = corrupt("entry %llu has term %llu, below term %llu of the entry before it", ull(idx), ull(term), ull(prev_term));
    } else if (term > hs_.term) {
      s = corrupt("entry %llu has term %llu, above the stored current term %llu", ull(idx), ull(term), ull(hs_.term));
    } else if (sqlite3_column_type(st, 2) != SQLITE_INTEGER || !known_type(type)) {
      s = corrupt("entry %llu has an unknown type", ull(idx));
    } else if (data_type == nullptr || std::strcmp(reinterpret_cast<const char*>(data_type), "blob") != 0) {
      s = corrupt("entry %llu's data is not a blob", ull(idx));
    } else if (bytes > options_.entry_bytes_max) {
      s = corrupt("entry %llu holds %llu bytes, over entry_bytes_max %llu", ull(idx), ull(bytes),
                  ull(options_.entry_bytes_max));
    }
    if (!s.is_ok()) break;
    prev_index = idx;
    prev_term = term;
  }
  if (s.is_ok() && rc != SQLITE_DONE) s = sql::error(db_, rc, "read log");
  sqlite3_finalize(st);
  AGENT_TRY(std::move(s));
  // Configuration entries (chapter 4) must decode: RaftCore takes the latest as its membership.
  rc = sqlite3_prepare_v2(db_, "SELECT idx, data FROM log WHERE type = ?1 ORDER BY idx", -1, &st, nullptr);
  if (rc != SQLITE_OK) return sql::error(db_, rc, "read configurations");
  sqlite3_bind_int64(st, 1, static_cast<int64_t>(wire::EntryType::kConfig));
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const void* p = sqlite3_column_blob(st, 1);
    const int n = sqlite3_column_bytes(st, 1);
    wire::RaftMembership m;
    if (!wire::decode_raft_membership(std::string_view(static_cast<const char*>(p), p ? size_t(n) : 0), &m).is_ok()) {
      s = corrupt("entry %llu holds an invalid configuration", ull(from_sql(sqlite3_column_int64(st, 0))));
      break;
    }
  }
  if (s.is_ok() && rc != SQLITE_DONE) s = sql::error(db_, rc, "read configurations");
  sqlite3_finalize(st);
  AGENT_TRY(std::move(s));
  last_index_ = prev_index;
  last_term_ = prev_term;
  return Status::ok();
}

base::Result<std::vector<Entry>> SqliteStorage::read_entries(Index from, Index to) const {
  AGENT_ASSERT(from >= 1);
  std::vector<Entry> out;
  from = std::max(from, start_.index + 1);
  if (to > last_index_) to = last_index_;
  if (from > to) return out;
  out.reserve(static_cast<size_t>(to - from + 1));
  sqlite3_bind_int64(select_, 1, to_sql(from));
  sqlite3_bind_int64(select_, 2, to_sql(to));
  int rc;
  Status s;
  while ((rc = sqlite3_step(select_)) == SQLITE_ROW) {
    Entry e;
    e.index = from_sql(sqlite3_column_int64(select_, 0));
    e.term = from_sql(sqlite3_column_int64(select_, 1));
    int64_t type = sqlite3_column_int64(select_, 2);
    if (!known_type(type)) {
      s = corrupt("entry %llu has an unknown type", ull(e.index));
      break;
    }
    e.type = static_cast<wire::EntryType>(type);
    const void* p = sqlite3_column_blob(select_, 3);
    int n = sqlite3_column_bytes(select_, 3);
    if (n > 0) e.data.assign(static_cast<const char*>(p), static_cast<size_t>(n));
    if (e.index != from + out.size()) {
      s = corrupt("the log has a gap at index %llu", ull(from + out.size()));
      break;
    }
    out.push_back(std::move(e));
  }
  if (s.is_ok() && rc != SQLITE_DONE) s = sql::error(db_, rc, "read entries");
  sqlite3_reset(select_);
  if (s.is_ok() && out.size() != to - from + 1) s = corrupt("the log ends before index %llu", ull(to));
  if (!s.is_ok()) return s;
  return out;
}

std::vector<Entry> SqliteStorage::entries(Index from) const {
  base::Result<std::vector<Entry>> r = read_entries(from, last_index_);
  // open() validated this file; failing to read it now means the disk failed under us, which
  // the host cannot recover from any more than from a failed fsync.
  AGENT_ASSERT_MSG(r.is_ok(), r.status().message().c_str());
  return std::move(r).value();
}

Status SqliteStorage::fail(Status s) {
  failed_ = true;
  return s;
}

Status SqliteStorage::check_writable() const {
  if (failed_) return base::error(Code::kFailedPrecondition, "raft storage: an earlier write or sync failed; the process must stop");
  return Status::ok();
}

Status SqliteStorage::begin_if_needed() {
  if (in_txn_) return Status::ok();
  Status s = step_done(db_, begin_, "begin");
  if (!s.is_ok()) return fail(std::move(s));
  in_txn_ = true;
  return Status::ok();
}

Status SqliteStorage::save_hard_state(const HardState& hs) {
  AGENT_TRY(check_writable());
  AGENT_TRY(begin_if_needed());
  sqlite3_bind_int64(save_hs_, 1, to_sql(hs.term));
  sqlite3_bind_int64(save_hs_, 2, to_sql(hs.voted_for));
  Status s = step_done(db_, save_hs_, "save hard state");
  if (!s.is_ok()) return fail(std::move(s));
  hs_ = hs;
  return Status::ok();
}

Status SqliteStorage::truncate_suffix(Index from) {
  if (from <= start_.index) {
    return base::error(Code::kInvalidArgument, "raft storage: truncate from %llu, at or before the log start %llu",
                       ull(from), ull(start_.index));
  }
  AGENT_TRY(check_writable());
  if (from > last_index_) return Status::ok();
  AGENT_TRY(begin_if_needed());
  sqlite3_bind_int64(truncate_, 1, to_sql(from));
  Status s = step_done(db_, truncate_, "truncate log");
  if (!s.is_ok()) return fail(std::move(s));
  Term term = start_.term;
  if (from - 1 > start_.index) {
    sqlite3_bind_int64(term_at_, 1, to_sql(from - 1));
    int rc = sqlite3_step(term_at_);
    if (rc == SQLITE_ROW) term = from_sql(sqlite3_column_int64(term_at_, 0));
    Status ts = rc == SQLITE_ROW ? Status::ok() : sql::error(db_, rc, "read term after truncation");
    sqlite3_reset(term_at_);
    if (!ts.is_ok()) return fail(std::move(ts));
  }
  last_index_ = from - 1;
  last_term_ = term;
  return Status::ok();
}

Status SqliteStorage::append(std::span<const Entry> entries) {
  AGENT_TRY(check_writable());
  if (entries.empty()) return Status::ok();
  // Validate the whole batch before writing any of it: bad input must not poison the storage.
  Index next = last_index_ + 1;
  for (const Entry& e : entries) {
    if (e.index != next) {
      return base::error(Code::kInvalidArgument, "raft storage: append of index %llu where %llu was expected",
                         ull(e.index), ull(next));
    }
    if (e.data.size() > options_.entry_bytes_max) {
      return base::error(Code::kResourceExhausted, "raft storage: entry %llu holds %zu bytes, over entry_bytes_max %zu",
                         ull(e.index), e.data.size(), options_.entry_bytes_max);
    }
    ++next;
  }
  AGENT_TRY(begin_if_needed());
  for (const Entry& e : entries) {
    sqlite3_bind_int64(insert_, 1, to_sql(e.index));
    sqlite3_bind_int64(insert_, 2, to_sql(e.term));
    sqlite3_bind_int64(insert_, 3, static_cast<int64_t>(e.type));
    // std::string::data() is never null, so an empty entry is an empty blob, not NULL.
    sqlite3_bind_blob64(insert_, 4, e.data.data(), e.data.size(), SQLITE_STATIC);
    Status s = step_done(db_, insert_, "append entry");
    sqlite3_clear_bindings(insert_);  // SQLITE_STATIC: do not keep a pointer into the caller's entry
    if (!s.is_ok()) return fail(std::move(s));
  }
  last_index_ = entries.back().index;
  last_term_ = entries.back().term;
  return Status::ok();
}

Status SqliteStorage::write_start(const SnapshotMeta& start, Index delete_upto) {
  AGENT_TRY(begin_if_needed());
  sqlite3_bind_int64(delete_prefix_, 1, to_sql(delete_upto));
  Status s = step_done(db_, delete_prefix_, "delete log prefix");
  if (!s.is_ok()) return fail(std::move(s));
  sqlite3_bind_int64(save_start_, 1, to_sql(start.index));
  sqlite3_bind_int64(save_start_, 2, to_sql(start.term));
  s = step_done(db_, save_start_, "save log start");
  if (!s.is_ok()) return fail(std::move(s));
  const std::string config = wire::encode_raft_membership(start.config);
  sqlite3_bind_blob64(save_start_config_, 1, config.data(), config.size(), SQLITE_STATIC);
  s = step_done(db_, save_start_config_, "save log start configuration");
  sqlite3_clear_bindings(save_start_config_);
  if (!s.is_ok()) return fail(std::move(s));
  start_ = start;
  if (last_index_ < start.index) {
    last_index_ = start.index;
    last_term_ = start.term;
  }
  return Status::ok();
}

Status SqliteStorage::apply_snapshot(const SnapshotMeta& meta) {
  AGENT_TRY(check_writable());
  if (meta.index == 0 || meta.term == 0 || meta.index < start_.index || meta.term > hs_.term ||
      static_cast<int64_t>(meta.index) < 0 || static_cast<int64_t>(meta.term) < 0) {
    return base::error(Code::kInvalidArgument, "raft storage: snapshot {%llu, %llu} is invalid here (log start %llu, term %llu)",
                       ull(meta.index), ull(meta.term), ull(start_.index), ull(hs_.term));
  }
  return write_start(meta, meta.index);
}

Status SqliteStorage::compact(Index upto) {
  AGENT_TRY(check_writable());
  if (upto <= start_.index) return Status::ok();
  if (upto > last_index_) {
    return base::error(Code::kInvalidArgument, "raft storage: compact to %llu past the log's end %llu", ull(upto),
                       ull(last_index_));
  }
  Term term = last_term_;
  if (upto != last_index_) {
    sqlite3_bind_int64(term_at_, 1, to_sql(upto));
    int rc = sqlite3_step(term_at_);
    if (rc == SQLITE_ROW) term = from_sql(sqlite3_column_int64(term_at_, 0));
    Status ts = rc == SQLITE_ROW ? Status::ok() : sql::error(db_, rc, "read term before compaction");
    sqlite3_reset(term_at_);
    if (!ts.is_ok()) return fail(std::move(ts));
  }
  // The configuration as of upto (§4.1, §5.1): the latest configuration entry being compacted
  // away, else the one the log start recorded. Entries were validated at open or came from the
  // core, so one that does not decode means the disk changed under us.
  wire::RaftMembership config = start_.config;
  sqlite3_bind_int64(config_at_, 1, to_sql(upto));
  int rc = sqlite3_step(config_at_);
  Status cs = Status::ok();
  if (rc == SQLITE_ROW) {
    const void* p = sqlite3_column_blob(config_at_, 0);
    const int n = sqlite3_column_bytes(config_at_, 0);
    if (!wire::decode_raft_membership(std::string_view(static_cast<const char*>(p), p ? size_t(n) : 0), &config)
             .is_ok()) {
      cs = corrupt("a configuration entry at or before %llu does not decode", ull(upto));
    }
  } else if (rc != SQLITE_DONE) {
    cs = sql::error(db_, rc, "read configuration before compaction");
  }
  sqlite3_reset(config_at_);
  if (!cs.is_ok()) return fail(std::move(cs));
  return write_start(SnapshotMeta{upto, term, std::move(config)}, upto);
}

Status SqliteStorage::sync() {
  AGENT_TRY(check_writable());
  if (!in_txn_) return Status::ok();
  // With WAL and synchronous=FULL, COMMIT returns after the WAL is fsync'd.
  Status s = step_done(db_, commit_, "commit (fsync)");
  if (!s.is_ok()) return fail(std::move(s));
  in_txn_ = false;
  ++syncs_;
  return Status::ok();
}

}  // namespace raft
