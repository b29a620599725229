// Proves AllocStore keeps a row whole (the network too) and opens a file an older agent made
// (table `allocs`, no network column): its rows move over and load with no network, and new
// rows keep theirs.
#include "agent/supervisor/alloc_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "tests/unit/hal/posix/test_util.h"

namespace supervisor {
namespace {

TEST(AllocStore, MovesTheRowsOfAnOlderFile) {
  posix_test::TempDir dir;
  const std::string path = dir.join("allocs.db");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "CREATE TABLE allocs (id TEXT PRIMARY KEY, name TEXT NOT NULL, source TEXT NOT NULL,"
                         " desired TEXT NOT NULL, client_status TEXT NOT NULL, job_json TEXT NOT NULL,"
                         " group_name TEXT NOT NULL, idx INTEGER NOT NULL, tasks_json TEXT NOT NULL,"
                         " create_ns INTEGER NOT NULL, modify_ns INTEGER NOT NULL) WITHOUT ROWID;"
                         "INSERT INTO allocs VALUES ('old','j.g[0]','static','run','running','{}','g',0,'{}',1,2);",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto store = AllocStore::open(path, "");
  ASSERT_TRUE(store.is_ok()) << store.status().message();
  auto rows = (*store)->load();
  ASSERT_TRUE(rows.is_ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].id, "old");
  EXPECT_EQ((*rows)[0].network_json, "");
  AllocRecord r = (*rows)[0];
  r.id = "new";
  r.create_unix_ns = 3;
  r.network_json = R"({"Mode":"bridge","IP":"172.26.64.2","Ports":[]})";
  ASSERT_TRUE((*store)->put(r).is_ok());
  store->reset();
  auto again = AllocStore::open(path, "");
  ASSERT_TRUE(again.is_ok()) << again.status().message();
  rows = (*again)->load();
  ASSERT_TRUE(rows.is_ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[1].id, "new");
  EXPECT_EQ((*rows)[1].network_json, r.network_json);
}

}  // namespace
}  // namespace supervisor
