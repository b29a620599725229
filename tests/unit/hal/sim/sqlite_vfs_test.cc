// The SQLite VFS over a simulated node's disk (hal/sim/sqlite_vfs.h) and the random-access side
// of SimFs under it: synced transactions survive a crash, unsynced WAL frames do not, a torn
// write is caught by the WAL's checksums so the database opens to a transaction boundary, the
// same seed writes the same bytes, and the refusals (shared memory, a second opener, a failed
// fsync) are clear errors.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <set>
#include <string>
#include <vector>

#include "hal/sim/world.h"

namespace {

// A raw connection on a node's VFS, with the pragmas Weft's databases use.
struct Db {
  sqlite3* db = nullptr;
  int open_rc = SQLITE_OK;

  Db(sim::Node& node, const std::string& path, const char* synchronous = "FULL", bool exclusive = true) {
    open_rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                              node.sqlite_vfs().name().c_str());
    if (open_rc != SQLITE_OK) return;
    if (exclusive) exec("PRAGMA locking_mode=EXCLUSIVE");
    mode = text("PRAGMA journal_mode=WAL");
    exec(std::string("PRAGMA synchronous=") + synchronous);
  }
  ~Db() { sqlite3_close_v2(db); }

  int exec(const std::string& sql) { return sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr); }
  std::string text(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    std::string out = "<error>";
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK) {
      int rc = sqlite3_step(st);
      if (rc == SQLITE_ROW) out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
      else if (rc == SQLITE_DONE) out = "";
    }
    sqlite3_finalize(st);
    return out;
  }
  std::vector<int64_t> ints(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    std::vector<int64_t> out;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    while (sqlite3_step(st) == SQLITE_ROW) out.push_back(sqlite3_column_int64(st, 0));
    sqlite3_finalize(st);
    return out;
  }
  std::string mode;
};

// Inserts rows [from, to] in one transaction; each row has a page-sized blob so a transaction
// spans several WAL frames.
int insert_rows(Db& d, int from, int to) {
  std::string sql = "BEGIN;";
  for (int i = from; i <= to; ++i) {
    sql += "INSERT INTO t(id, pad) VALUES (" + std::to_string(i) + ", zeroblob(3000));";
  }
  sql += "COMMIT;";
  return d.exec(sql);
}

std::vector<int64_t> range(int from, int to) {
  std::vector<int64_t> v;
  for (int i = from; i <= to; ++i) v.push_back(i);
  return v;
}

std::string read_all(sim::SimFs& fs, const std::string& path) {
  auto r = fs.read_file(path, 1 << 28);
  return r.is_ok() ? *r : "<" + std::string(base::code_name(r.status().code())) + ">";
}

// A node whose process does nothing: tests drive SQLite by hand on its VFS.
sim::Node& add_node(sim::World& w) {
  sim::Node& n = w.node(w.add_node("db"));
  EXPECT_TRUE(n.fs().make_dirs("/data", 0700).is_ok());
  return n;
}

}  // namespace

TEST(SqliteVfs, SyncedTransactionsSurviveACrash) {
  sim::World w(1);
  sim::Node& n = add_node(w);
  EXPECT_EQ(n.env().sqlite_vfs, n.sqlite_vfs().name());
  {
    Db d(n, "/data/a.db");
    ASSERT_EQ(d.open_rc, SQLITE_OK);
    ASSERT_EQ(d.mode, "wal");
    ASSERT_EQ(d.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, pad BLOB)"), SQLITE_OK);
    ASSERT_EQ(insert_rows(d, 1, 10), SQLITE_OK);
    EXPECT_GT(n.sqlite_vfs().syncs(), 0u);
    EXPECT_TRUE(n.fs().file_exists("/data/a.db-wal"));
    w.crash(n.id());  // with the connection open: its handles die with the process
    EXPECT_NE(d.exec("INSERT INTO t(id) VALUES (99)"), SQLITE_OK);
  }
  EXPECT_EQ(n.sqlite_vfs().open_files(), 0u);
  w.restart(n.id());
  Db d(n, "/data/a.db");
  EXPECT_EQ(d.text("PRAGMA quick_check"), "ok");
  EXPECT_EQ(d.ints("SELECT id FROM t ORDER BY id"), range(1, 10));
  EXPECT_EQ(n.sqlite_vfs().shm_calls(), 0u);  // exclusive mode: the WAL index is in heap memory
}

TEST(SqliteVfs, UnsyncedWalFramesAreLost) {
  sim::World w(1);
  sim::Node& n = add_node(w);
  {
    Db d(n, "/data/a.db");
    ASSERT_EQ(d.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, pad BLOB)"), SQLITE_OK);
    ASSERT_EQ(insert_rows(d, 1, 5), SQLITE_OK);  // synchronous=FULL: synced at commit
    ASSERT_EQ(d.exec("PRAGMA synchronous=OFF"), SQLITE_OK);
    ASSERT_EQ(insert_rows(d, 6, 20), SQLITE_OK);  // committed, never synced
    EXPECT_EQ(d.ints("SELECT count(*) FROM t"), std::vector<int64_t>{20});
    EXPECT_GE(n.fs().unsynced_files(), 1u);
    w.crash(n.id());
  }
  w.restart(n.id());
  Db d(n, "/data/a.db");
  EXPECT_EQ(d.text("PRAGMA quick_check"), "ok");
  EXPECT_EQ(d.ints("SELECT id FROM t ORDER BY id"), range(1, 5));
}

// A crash while no transaction is durable at all leaves no database (the file was never synced).
TEST(SqliteVfs, NeverSyncedDatabaseVanishes) {
  sim::World w(1);
  sim::Node& n = add_node(w);
  {
    Db d(n, "/data/a.db", "OFF");
    ASSERT_EQ(d.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, pad BLOB)"), SQLITE_OK);
    w.crash(n.id());
  }
  w.restart(n.id());
  Db d(n, "/data/a.db");
  EXPECT_EQ(d.ints("SELECT count(*) FROM sqlite_master"), std::vector<int64_t>{0});
}

// Torn crashes (every crash torn): the synced transaction is always there, the unsynced ones
// survive only as a prefix of whole transactions (never half of one), and quick_check passes.
// Over the seeds the tear must actually have left partial writes on disk and sometimes kept
// some unsynced transactions whole, or the test would prove nothing.
TEST(SqliteVfs, TornWritesOpenToATransactionBoundary) {
  uint64_t torn_files = 0, kept_some = 0, kept_none = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    sim::SimConfig cfg;
    cfg.disk_tear_probability = 1.0;
    sim::World w(seed, cfg);
    sim::Node& n = add_node(w);
    const int txns = 8;
    {
      Db d(n, "/data/a.db");
      ASSERT_EQ(d.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, pad BLOB)"), SQLITE_OK);
      ASSERT_EQ(insert_rows(d, 1, 3), SQLITE_OK);  // synced
      ASSERT_EQ(d.exec("PRAGMA synchronous=OFF"), SQLITE_OK);
      for (int t = 0; t < txns; ++t) ASSERT_EQ(insert_rows(d, 4 + 2 * t, 5 + 2 * t), SQLITE_OK);
      w.crash(n.id());
    }
    torn_files += n.fs().torn_files();
    w.restart(n.id());
    Db d(n, "/data/a.db");
    ASSERT_EQ(d.text("PRAGMA quick_check"), "ok") << "seed " << seed;
    std::vector<int64_t> ids = d.ints("SELECT id FROM t ORDER BY id");
    ASSERT_GE(ids.size(), 3u) << "seed " << seed << ": a synced transaction was lost";
    ASSERT_EQ(ids.size() % 2, 1u) << "seed " << seed << ": half a transaction survived";
    EXPECT_EQ(ids, range(1, static_cast<int>(ids.size()))) << "seed " << seed;
    (ids.size() > 3 ? kept_some : kept_none)++;
  }
  printf("torn crashes: %llu files torn; unsynced transactions partly kept in %llu runs, none in %llu\n",
         static_cast<unsigned long long>(torn_files), static_cast<unsigned long long>(kept_some),
         static_cast<unsigned long long>(kept_none));
  EXPECT_GT(torn_files, 10u);
  EXPECT_GT(kept_some, 0u);
  EXPECT_GT(kept_none, 0u);
}

// A torn write inside one transaction: the last frame of the only unsynced transaction is cut.
// SQLite's WAL checksum must reject it and the database opens to the synced state.
TEST(SqliteVfs, TornLastFrameIsDetected) {
  uint64_t torn = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    sim::SimConfig cfg;
    cfg.disk_tear_probability = 1.0;
    sim::World w(seed, cfg);
    sim::Node& n = add_node(w);
    std::string wal_synced;
    {
      Db d(n, "/data/a.db");
      ASSERT_EQ(d.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, pad BLOB)"), SQLITE_OK);
      ASSERT_EQ(insert_rows(d, 1, 2), SQLITE_OK);
      wal_synced = read_all(n.fs(), "/data/a.db-wal");
      ASSERT_EQ(d.exec("PRAGMA synchronous=OFF"), SQLITE_OK);
      ASSERT_EQ(insert_rows(d, 3, 12), SQLITE_OK);  // one transaction of ~10 frames
      w.crash(n.id());
    }
    if (read_all(n.fs(), "/data/a.db-wal") != wal_synced) ++torn;
    w.restart(n.id());
    Db d(n, "/data/a.db");
    ASSERT_EQ(d.text("PRAGMA quick_check"), "ok") << "seed " << seed;
    EXPECT_EQ(d.ints("SELECT id FROM t ORDER BY id"), range(1, 2)) << "seed " << seed;
  }
  EXPECT_GT(torn, 5u) << "the WAL on disk should differ from its synced content after most torn crashes";
}

// The same seed writes the same bytes (SQLite's WAL salts come from the pinned PRNG) and tears
// the same way; another seed tears differently.
TEST(SqliteVfs, SameSeedSameBytes) {
  auto run = [](uint64_t seed) {
    sim::SimConfig cfg;
    cfg.disk_tear_probability = 1.0;
    sim::World w(seed, cfg);
    sim::Node& n = add_node(w);
    std::string before;
    {
      Db d(n, "/data/a.db");
      EXPECT_EQ(d.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, pad BLOB)"), SQLITE_OK);
      EXPECT_EQ(insert_rows(d, 1, 3), SQLITE_OK);
      EXPECT_EQ(d.exec("PRAGMA synchronous=OFF"), SQLITE_OK);
      for (int t = 0; t < 5; ++t) EXPECT_EQ(insert_rows(d, 4 + t, 4 + t), SQLITE_OK);
      before = read_all(n.fs(), "/data/a.db") + read_all(n.fs(), "/data/a.db-wal");
      w.crash(n.id());
    }
    return before + "|" + read_all(n.fs(), "/data/a.db") + read_all(n.fs(), "/data/a.db-wal");
  };
  const std::string a = run(7);
  EXPECT_EQ(a, run(7));
  std::set<std::string> others;
  for (uint64_t s = 8; s < 14; ++s) others.insert(run(s));
  EXPECT_GT(others.size(), 1u);
}

TEST(SqliteVfs, SharedMemoryIsRefusedClearly) {
  sim::World w(1);
  sim::Node& n = add_node(w);
  Db d(n, "/data/a.db", "FULL", /*exclusive=*/false);
  // Without exclusive locking the WAL index needs shared memory, which this VFS refuses.
  const int rc = d.exec("CREATE TABLE t(id INTEGER PRIMARY KEY)");
  EXPECT_TRUE(d.mode != "wal" || rc != SQLITE_OK) << "mode " << d.mode;
  EXPECT_GT(n.sqlite_vfs().shm_calls(), 0u);
}

TEST(SqliteVfs, SecondOpenerIsBusy) {
  sim::World w(1);
  sim::Node& n = add_node(w);
  Db a(n, "/data/a.db");
  ASSERT_EQ(a.exec("CREATE TABLE t(id INTEGER PRIMARY KEY)"), SQLITE_OK);
  sqlite3* b = nullptr;
  ASSERT_EQ(sqlite3_open_v2("/data/a.db", &b, SQLITE_OPEN_READWRITE, n.sqlite_vfs().name().c_str()), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(b, "SELECT * FROM t", nullptr, nullptr, nullptr) & 0xff, SQLITE_BUSY);
  sqlite3_close_v2(b);
}

TEST(SqliteVfs, InjectedFsyncFailureFailsTheCommit) {
  sim::World w(1);
  sim::Node& n = add_node(w);
  Db d(n, "/data/a.db");
  ASSERT_EQ(d.exec("CREATE TABLE t(id INTEGER PRIMARY KEY)"), SQLITE_OK);
  n.fs().fail_durable_writes(1);
  EXPECT_EQ(d.exec("INSERT INTO t(id) VALUES (1)") & 0xff, SQLITE_IOERR);
}

TEST(SqliteVfs, TimeIsTheSimulatedWallClock) {
  sim::World w(1);
  sim::Node& n = add_node(w);
  Db d(n, "/data/a.db");
  EXPECT_EQ(d.text("SELECT strftime('%Y-%m-%d %H:%M:%S', 'now')"), "2026-01-01 00:00:00");
  w.run_for(base::Duration::seconds(90));
  EXPECT_EQ(d.text("SELECT strftime('%Y-%m-%d %H:%M:%S', 'now')"), "2026-01-01 00:01:30");
}

TEST(SqliteVfs, LyingDiskLosesAcknowledgedCommits) {
  sim::World w(1);
  sim::Node& n = add_node(w);
  n.fs().lie_about_syncs(true);
  {
    Db d(n, "/data/a.db");
    ASSERT_EQ(d.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, pad BLOB)"), SQLITE_OK);
    ASSERT_EQ(insert_rows(d, 1, 5), SQLITE_OK);  // "synced"
    w.crash(n.id());
  }
  w.restart(n.id());
  Db d(n, "/data/a.db");
  EXPECT_EQ(d.ints("SELECT count(*) FROM sqlite_master"), std::vector<int64_t>{0});
}

// The random-access layer itself: ops replay onto the durable copy at sync, and a torn write
// keeps whole sectors of its prefix and nothing outside its range.
TEST(SimFsRandomAccess, SyncAndTornWriteAtSectorGranularity) {
  sim::SimConfig cfg;
  cfg.disk_tear_probability = 1.0;
  std::set<size_t> kept_lengths;
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    sim::World w(seed, cfg);
    sim::Node& n = w.node(w.add_node("a"));
    sim::SimFs& fs = n.fs();
    ASSERT_TRUE(fs.create_file("/f", 0600).is_ok());
    ASSERT_TRUE(fs.write_at("/f", 0, base::as_bytes(std::string(1024, 'a'))).is_ok());
    ASSERT_TRUE(fs.sync_file("/f").is_ok());
    ASSERT_TRUE(fs.write_at("/f", 100, base::as_bytes(std::string(2000, 'b'))).is_ok());  // unsynced, last
    w.crash(n.id());
    std::string d = read_all(fs, "/f");
    // 'b' bytes, if any, are a prefix of the write ending at a sector boundary.
    const size_t first_b = d.find('b');
    const size_t b_count = first_b == std::string::npos ? 0 : d.find_first_not_of('b', first_b) == std::string::npos
                                                                   ? d.size() - first_b
                                                                   : d.find_first_not_of('b', first_b) - first_b;
    if (b_count > 0) {
      EXPECT_EQ(first_b, 100u);
      EXPECT_EQ((100 + b_count) % 512, 0u) << "seed " << seed;
      EXPECT_LT(b_count, 2000u);
    }
    EXPECT_EQ(d.size(), 1024u + (100 + b_count > 1024 ? 100 + b_count - 1024 : 0));
    for (size_t i = 0; i < d.size(); ++i) {
      if (i < 100 || i >= 100 + b_count) {
        ASSERT_EQ(d[i], 'a') << "byte " << i << " outside the write changed";
      }
    }
    kept_lengths.insert(b_count);
  }
  // The write covers [100, 2100): cuts at 512, 1024, 1536 and 2048 (412, 924, 1436 and 1948
  // bytes kept) or before it (none).
  EXPECT_EQ(kept_lengths, (std::set<size_t>{0, 412, 924, 1436, 1948}));
}
