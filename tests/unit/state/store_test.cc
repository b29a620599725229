// state::Store: Consul's KV semantics (CAS, indexes, delete-tree, keys with a separator), one
// transaction per batch (a failure injected mid-batch by a trigger applies nothing), bad commands
// as per-command errors, resuming after reopen, snapshots (round trip, and corrupt, truncated or
// newer snapshots refused with the live state untouched), and the key and value limits.
#include "agent/state/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "agent/base/bytes.h"
#include "agent/wire/state_command.h"
#include "hal/crypto.h"

// Commands are written with designated initializers that leave the fields a type does not use.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

using state::ApplyResult;
using state::KvEntry;
using state::Store;
using wire::StateCommand;
using wire::StateCommandType;

namespace {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "weft-state-XXXXXX").string();
    char* p = mkdtemp(tmpl.data());
    EXPECT_NE(p, nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const char* name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::unique_ptr<Store> open_ok(const std::string& path) {
  auto r = Store::open(path);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  if (!r.is_ok()) return nullptr;
  return std::move(r).value();
}

void raw_sql(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "") << " in: " << sql;
  sqlite3_free(err);
  sqlite3_close(db);
}

std::string enc(const StateCommand& c) {
  auto r = wire::encode_state_command(c);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return r.is_ok() ? r.value() : std::string();
}
std::string set(std::string key, std::string value, uint64_t flags = 0) {
  return enc({.type = StateCommandType::kKvSet, .key = std::move(key), .value = std::move(value), .flags = flags});
}
std::string cas(std::string key, std::string value, uint64_t index) {
  return enc({.type = StateCommandType::kKvCas, .key = std::move(key), .value = std::move(value), .index = index});
}
std::string del(std::string key) { return enc({.type = StateCommandType::kKvDelete, .key = std::move(key)}); }
std::string del_cas(std::string key, uint64_t index) {
  return enc({.type = StateCommandType::kKvDeleteCas, .key = std::move(key), .index = index});
}
std::string del_tree(std::string prefix) { return enc({.type = StateCommandType::kKvDeleteTree, .key = std::move(prefix)}); }

std::vector<ApplyResult> apply_ok(Store& s, uint64_t first, std::vector<std::string> cmds) {
  auto r = s.apply(first, cmds);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return r.is_ok() ? r.value() : std::vector<ApplyResult>{};
}

std::optional<KvEntry> get(const Store& s, std::string_view key) {
  auto r = s.get(key);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return r.is_ok() ? r.value() : std::nullopt;
}

std::vector<std::string> keys(const Store& s, std::string_view prefix, std::string_view sep) {
  auto r = s.keys(prefix, sep);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return r.is_ok() ? r.value() : std::vector<std::string>{};
}

uint64_t prefix_index(const Store& s, std::string_view prefix) {
  auto r = s.prefix_index(prefix);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return r.is_ok() ? r.value() : 0;
}

// Everything a reader can see, for comparing two stores.
std::string dump(const Store& s) {
  std::string out = "applied=" + std::to_string(s.last_applied()) + "\n";
  auto all = s.list("");
  EXPECT_TRUE(all.is_ok());
  for (const KvEntry& e : all.value()) {
    out += e.key + "=" + (e.value.size() <= 32 ? e.value : std::to_string(e.value.size()) + " bytes") + " f" + std::to_string(e.flags) + " c" + std::to_string(e.create_index) + " m" +
           std::to_string(e.modify_index) + " l" + std::to_string(e.lock_index) + "\n";
  }
  out += "index(web/)=" + std::to_string(prefix_index(s, "web/")) + "\n";
  return out;
}

TEST(StateStore, CasIndexZeroCreatesOnlyStaleRefusedMatchingAccepted) {
  // Consul's ?cas=: 0 sets only an absent key; otherwise the modify index must match.
  TempDir dir;
  auto s = open_ok(dir.file("state.db"));
  auto r = apply_ok(*s, 1, {cas("k", "v1", 0), cas("k", "v2", 0)});
  ASSERT_EQ(r.size(), 2u);
  EXPECT_TRUE(r[0].status.is_ok());
  EXPECT_TRUE(r[0].value);
  EXPECT_FALSE(r[1].value);  // exists now
  EXPECT_EQ(get(*s, "k")->value, "v1");
  r = apply_ok(*s, 3, {cas("k", "stale", 2), cas("k", "v3", 1), cas("k", "again", 1)});
  EXPECT_FALSE(r[0].value);
  EXPECT_TRUE(r[1].value);
  EXPECT_FALSE(r[2].value);  // index moved to 4
  auto e = get(*s, "k");
  EXPECT_EQ(e->value, "v3");
  EXPECT_EQ(e->modify_index, 4u);
  EXPECT_EQ(e->create_index, 1u);
  // Delete-CAS: a stale index refuses, the matching one deletes, an absent key is a success.
  r = apply_ok(*s, 6, {del_cas("k", 1), del_cas("k", 4), del_cas("k", 4)});
  EXPECT_FALSE(r[0].value);
  EXPECT_TRUE(r[1].value);
  EXPECT_TRUE(r[2].value);
  EXPECT_FALSE(get(*s, "k").has_value());
  // cas with a non-zero index on an absent key fails.
  r = apply_ok(*s, 9, {cas("k", "x", 7)});
  EXPECT_FALSE(r[0].value);
  EXPECT_FALSE(get(*s, "k").has_value());
}

TEST(StateStore, CreateAndModifyIndexBookkeeping) {
  // Each command's Raft index becomes its modify index; create_index stays from the first set.
  TempDir dir;
  auto s = open_ok(dir.file("state.db"));
  apply_ok(*s, 10, {set("a", "1", 7), set("b", "2")});
  apply_ok(*s, 15, {set("a", "3", 9)});
  auto a = get(*s, "a");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->create_index, 10u);
  EXPECT_EQ(a->modify_index, 15u);
  EXPECT_EQ(a->flags, 9u);
  EXPECT_EQ(a->lock_index, 0u);
  EXPECT_FALSE(a->session.has_value());
  EXPECT_EQ(get(*s, "b")->modify_index, 11u);
  EXPECT_EQ(s->last_applied(), 15u);
  // Deleted and re-created: a new create index.
  apply_ok(*s, 16, {del("a"), set("a", "")});
  a = get(*s, "a");
  EXPECT_EQ(a->create_index, 17u);
  EXPECT_EQ(a->value, "");
  // A batch at or below last_applied is refused.
  std::vector<std::string> one = {set("z", "z")};
  EXPECT_EQ(s->apply(17, one).status().code(), base::Code::kInvalidArgument);
}

TEST(StateStore, DeleteTreeAndPrefixIndex) {
  // delete-tree removes exactly the prefix; X-Consul-Index for a prefix moves on a delete.
  TempDir dir;
  auto s = open_ok(dir.file("state.db"));
  apply_ok(*s, 1, {set("web/a", "1"), set("web/b", "2"), set("web/sub/c", "3"), set("webx", "4"), set("db/a", "5")});
  EXPECT_EQ(prefix_index(*s, "web/"), 3u);
  EXPECT_EQ(prefix_index(*s, "db/"), 5u);
  apply_ok(*s, 6, {del_tree("web/")});
  EXPECT_EQ(s->list("web/").value().size(), 0u);
  EXPECT_TRUE(get(*s, "webx").has_value());
  EXPECT_TRUE(get(*s, "db/a").has_value());
  EXPECT_EQ(prefix_index(*s, "web/"), 6u);  // the tombstones
  EXPECT_EQ(prefix_index(*s, "db/"), 5u);
  EXPECT_EQ(prefix_index(*s, "nothing/"), 6u);  // falls back to last_applied
  apply_ok(*s, 7, {set("web/a", "again")});
  EXPECT_EQ(prefix_index(*s, "web/"), 7u);
  apply_ok(*s, 8, {del_tree("")});  // everything, like DELETE /v1/kv/?recurse
  EXPECT_EQ(s->list("").value().size(), 0u);
}

TEST(StateStore, KeysWithSeparatorAsConsul) {
  // Consul's example: ?keys&separator=/ under "web/" gives "web/a", "web/sub/" (once).
  TempDir dir;
  auto s = open_ok(dir.file("state.db"));
  apply_ok(*s, 1, {set("web/a", ""), set("web/sub/x", ""), set("web/sub/y", ""), set("web/sub/z/w", ""), set("webby", ""),
                   set("api/a", "")});
  EXPECT_EQ(keys(*s, "web/", "/"), (std::vector<std::string>{"web/a", "web/sub/"}));
  EXPECT_EQ(keys(*s, "web/", ""), (std::vector<std::string>{"web/a", "web/sub/x", "web/sub/y", "web/sub/z/w"}));
  EXPECT_EQ(keys(*s, "", "/"), (std::vector<std::string>{"api/", "web/", "webby"}));
  EXPECT_EQ(keys(*s, "web", "/"), (std::vector<std::string>{"web/", "webby"}));
  auto listed = s->list("web/sub/");
  ASSERT_TRUE(listed.is_ok());
  EXPECT_EQ(listed.value().size(), 3u);
}

TEST(StateStore, BatchIsAllOrNothingWhenAWriteFailsMidBatch) {
  // A trigger makes the insert of key "boom" fail in the middle of a batch: nothing of the batch
  // is applied, last_applied is unchanged, the store refuses more batches, and a reopen sees the
  // state before the batch.
  TempDir dir;
  std::string path = dir.file("state.db");
  {
    auto s = open_ok(path);
    apply_ok(*s, 1, {set("a", "1")});
  }
  raw_sql(path, "CREATE TRIGGER boom BEFORE INSERT ON kv WHEN NEW.key = 'boom' BEGIN SELECT RAISE(ABORT, 'injected'); END;");
  {
    auto s = open_ok(path);
    std::vector<std::string> batch = {set("a", "2"), set("b", "1"), set("boom", "x"), set("c", "1")};
    auto r = s->apply(2, batch);
    ASSERT_FALSE(r.is_ok());
    EXPECT_EQ(r.status().code(), base::Code::kIo);
    EXPECT_NE(r.status().message().find("injected"), std::string::npos) << r.status().message();
    EXPECT_EQ(s->last_applied(), 1u);
    EXPECT_EQ(get(*s, "a")->value, "1");
    EXPECT_FALSE(get(*s, "b").has_value());
    EXPECT_TRUE(s->failed());
    std::vector<std::string> more = {set("d", "1")};
    EXPECT_EQ(s->apply(6, more).status().code(), base::Code::kFailedPrecondition);
  }
  raw_sql(path, "DROP TRIGGER boom;");
  auto s = open_ok(path);
  EXPECT_EQ(s->last_applied(), 1u);
  EXPECT_EQ(get(*s, "a")->value, "1");
  EXPECT_FALSE(get(*s, "b").has_value());
  EXPECT_FALSE(get(*s, "c").has_value());
}

TEST(StateStore, BadCommandsYieldErrorsWithoutAffectingOthers) {
  // Garbage, truncated, unknown-type and over-limit commands get error results; the rest apply and
  // every command still consumes its index.
  TempDir dir;
  auto s = open_ok(dir.file("state.db"));
  std::string good = set("k", "v");
  std::string truncated = good.substr(0, good.size() - 1);
  std::string trailing = good + "x";
  std::string bad_type = good;
  bad_type[1] = 99;
  std::string bad_version = good;
  bad_version[0] = 9;
  auto r = apply_ok(*s, 1, {"", "\xff\xff\xff", truncated, trailing, bad_type, bad_version, good, set("k2", "v2")});
  ASSERT_EQ(r.size(), 8u);
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(r[i].status.code(), base::Code::kInvalidArgument) << i;
  EXPECT_TRUE(r[6].status.is_ok());
  EXPECT_TRUE(r[7].status.is_ok());
  EXPECT_EQ(get(*s, "k")->modify_index, 7u);
  EXPECT_EQ(get(*s, "k2")->modify_index, 8u);
  EXPECT_EQ(s->last_applied(), 8u);
  // A batch of nothing but bad commands still advances last_applied.
  std::vector<std::string> only_bad = {"x"};
  ASSERT_TRUE(s->apply(9, only_bad).is_ok());
  EXPECT_EQ(s->last_applied(), 9u);
}

TEST(StateStore, KeyAndValueLimits) {
  // Keys: at most 512 bytes, UTF-8, no leading '/'; values at most 512 KiB -- at the encoder and,
  // for hand-made bytes, at apply.
  std::string key512(512, 'k');
  std::string value_max(wire::kKvValueBytesMax, 'v');
  EXPECT_TRUE(wire::encode_state_command({.type = StateCommandType::kKvSet, .key = key512, .value = value_max}).is_ok());
  EXPECT_EQ(wire::encode_state_command({.type = StateCommandType::kKvSet, .key = key512 + "k"}).status().code(),
            base::Code::kResourceExhausted);
  EXPECT_EQ(wire::encode_state_command({.type = StateCommandType::kKvSet, .key = "k", .value = value_max + "v"}).status().code(),
            base::Code::kResourceExhausted);
  for (std::string bad : {std::string("/lead"), std::string(""), std::string("\xc0\xaf"), std::string("\xed\xa0\x80"),
                          std::string("a\xff"), std::string("\xe2\x82")}) {
    EXPECT_FALSE(wire::encode_state_command({.type = StateCommandType::kKvSet, .key = bad}).is_ok()) << bad;
  }
  EXPECT_TRUE(wire::valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));

  // Hand-encoded over-limit commands reach apply as error results.
  auto hand = [](std::string_view key, size_t value_bytes) {
    std::string out;
    base::ByteWriter w(&out, size_t{1} << 21);
    w.u8(wire::kStateCommandVersion);
    w.u8(static_cast<uint8_t>(StateCommandType::kKvSet));
    w.str(key);
    w.u64(0);
    w.str(std::string(value_bytes, 'v'));
    return out;
  };
  TempDir dir;
  auto s = open_ok(dir.file("state.db"));
  auto r = apply_ok(*s, 1, {hand(key512 + "k", 1), hand("k", wire::kKvValueBytesMax + 1), hand("/k", 1),
                            hand(key512, wire::kKvValueBytesMax)});
  EXPECT_EQ(r[0].status.code(), base::Code::kResourceExhausted);
  EXPECT_EQ(r[1].status.code(), base::Code::kResourceExhausted);
  EXPECT_EQ(r[2].status.code(), base::Code::kInvalidArgument);
  EXPECT_TRUE(r[3].status.is_ok());
  EXPECT_EQ(get(*s, key512)->value.size(), wire::kKvValueBytesMax);
}

TEST(StateStore, CommandEncodingRoundTripsAndEveryTruncationFails) {
  // Every command type decodes to what was encoded; every proper prefix is an error.
  std::vector<StateCommand> cmds = {
      {.type = StateCommandType::kKvSet, .key = "a/b", .value = std::string("\0\1\2", 3), .flags = ~0ull},
      {.type = StateCommandType::kKvCas, .key = "a", .value = "v", .flags = 3, .index = 42},
      {.type = StateCommandType::kKvDelete, .key = "a"},
      {.type = StateCommandType::kKvDeleteCas, .key = "a", .index = 7},
      {.type = StateCommandType::kKvDeleteTree, .key = ""},
  };
  for (const StateCommand& c : cmds) {
    std::string b = enc(c);
    auto d = wire::decode_state_command(b);
    ASSERT_TRUE(d.is_ok()) << d.status().to_string();
    EXPECT_EQ(d.value(), c);
    for (size_t n = 0; n < b.size(); ++n) EXPECT_FALSE(wire::decode_state_command(b.substr(0, n)).is_ok()) << n;
  }
}

TEST(StateStore, ReopenResumesFromLastApplied) {
  // last_applied is committed with the batch, so a reopened store says where to resume.
  TempDir dir;
  std::string path = dir.file("state.db");
  {
    auto s = open_ok(path);
    EXPECT_EQ(s->last_applied(), 0u);
    apply_ok(*s, 1, {set("a", "1"), set("b", "2")});
    apply_ok(*s, 5, {set("a", "3")});  // 3 and 4 were not state commands (no-ops, config)
  }
  auto s = open_ok(path);
  EXPECT_EQ(s->last_applied(), 5u);
  EXPECT_EQ(get(*s, "a")->modify_index, 5u);
  EXPECT_EQ(get(*s, "b")->value, "2");
  apply_ok(*s, 6, {set("c", "3")});
  EXPECT_EQ(s->last_applied(), 6u);
}

TEST(StateStore, RefusesNewerSchemaAndForeignFiles) {
  // A database from a newer agent, or one that is not a state database, is an error at open.
  TempDir dir;
  std::string path = dir.file("state.db");
  { auto s = open_ok(path); }
  raw_sql(path, "UPDATE meta SET value = 4 WHERE key = 'schema_version';");
  auto r = Store::open(path);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), base::Code::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("newer"), std::string::npos) << r.status().message();

  std::string other = dir.file("other.db");
  raw_sql(other, "CREATE TABLE t(x);");
  EXPECT_EQ(Store::open(other).status().code(), base::Code::kFailedPrecondition);
}

void fill(Store& s) {
  auto r = s.apply(1, std::vector<std::string>{set("web/a", "1", 5), set("web/sub/b", std::string(5000, 'x')), set("db/c", ""),
                                                del("web/a"), set("web/a", "2"), del_tree("db/")});
  ASSERT_TRUE(r.is_ok());
}

TEST(StateStore, SnapshotRoundTripIntoAFreshStoreGivesIdenticalReads) {
  // A snapshot restored into a fresh store (and into one with other data) reads the same,
  // survives a reopen, and the restored store applies on from the snapshot's index.
  TempDir dir;
  auto a = open_ok(dir.file("a.db"));
  fill(*a);
  auto snap = a->snapshot();
  ASSERT_TRUE(snap.is_ok()) << snap.status().to_string();
  {
    auto b = open_ok(dir.file("b.db"));
    apply_ok(*b, 1, {set("junk", "j")});
    ASSERT_TRUE(b->restore(snap.value()).is_ok());
    EXPECT_EQ(dump(*b), dump(*a));
    EXPECT_FALSE(get(*b, "junk").has_value());
    EXPECT_EQ(keys(*b, "", "/"), keys(*a, "", "/"));
  }
  auto b = open_ok(dir.file("b.db"));
  EXPECT_EQ(dump(*b), dump(*a));
  apply_ok(*b, 7, {set("x", "y")});
  apply_ok(*a, 7, {set("x", "y")});
  EXPECT_EQ(dump(*b), dump(*a));
}

// Reads a whole file (a database the test wrote) as an image, marked as snapshot() marks them.
std::string image_of(const std::string& path) {
  std::string image;
  FILE* f = fopen(path.c_str(), "rb");
  EXPECT_NE(f, nullptr);
  char buf[4096];
  size_t n;
  while (f != nullptr && (n = fread(buf, 1, sizeof buf, f)) > 0) image.append(buf, n);
  if (f != nullptr) fclose(f);
  EXPECT_GT(image.size(), 100u);
  if (image.size() > 19) image[18] = image[19] = 1;
  return image;
}

// A snapshot in store.h's layout around `image`, with its digest.
std::string wrap_image(uint64_t schema, uint64_t last_applied, const std::string& image) {
  std::string out;
  base::ByteWriter w(&out, image.size() + 100);
  w.raw(std::string_view("WEFTSNAP"));
  w.u32(1);
  w.u64(schema);
  w.u64(last_applied);
  w.u64(image.size());
  const size_t digest_at = out.size();
  w.raw(std::string(32, '\0'));
  w.raw(image);
  EXPECT_TRUE(w.ok());
  hal::crypto::Digest d = hal::crypto::sha256(
      {base::as_bytes(std::string_view(out).substr(0, digest_at)), base::as_bytes(std::string_view(image))});
  std::memcpy(out.data() + digest_at, d.data(), d.size());
  return out;
}

TEST(StateStore, CorruptSnapshotsAreRefusedAndLiveStateUntouched) {
  // Flipped bytes (header, digest, image), truncation, a newer schema version and an image whose
  // digest is right but whose database is broken: each a clear error, the live store unchanged.
  TempDir dir;
  auto a = open_ok(dir.file("a.db"));
  fill(*a);
  std::string snap = a->snapshot().value();
  auto live = open_ok(dir.file("live.db"));
  apply_ok(*live, 1, {set("mine", "keep")});
  std::string before = dump(*live);

  auto refuse = [&](const std::string& bad, base::Code code, const char* what) {
    base::Status st = live->restore(bad);
    EXPECT_FALSE(st.is_ok()) << what;
    EXPECT_EQ(st.code(), code) << what << ": " << st.to_string();
    EXPECT_EQ(dump(*live), before) << what;
  };
  for (size_t at : {size_t{0}, size_t{9}, size_t{30}, size_t{40}, size_t{70}, snap.size() / 2, snap.size() - 1}) {
    std::string bad = snap;
    bad[at] = static_cast<char>(bad[at] ^ 0x40);
    refuse(bad, base::Code::kInvalidArgument, "flipped byte");
  }
  refuse(snap.substr(0, snap.size() - 1), base::Code::kInvalidArgument, "truncated by one");
  refuse(snap.substr(0, 20), base::Code::kInvalidArgument, "truncated header");
  refuse("", base::Code::kInvalidArgument, "empty");

  // Re-sign a modified header or image so only the later checks can catch it.
  auto resign = [](std::string s) {
    constexpr size_t kDigestAt = 8 + 4 + 8 + 8 + 8;
    hal::crypto::Digest d = hal::crypto::sha256(
        {base::as_bytes(std::string_view(s).substr(0, kDigestAt)), base::as_bytes(std::string_view(s).substr(kDigestAt + 32))});
    std::memcpy(s.data() + kDigestAt, d.data(), d.size());
    return s;
  };
  std::string newer = snap;
  newer[12] = 4;  // header schema_version
  refuse(resign(newer), base::Code::kFailedPrecondition, "newer schema in header");
  std::string wrong_applied = snap;
  wrong_applied[20] = 99;  // header last_applied
  refuse(resign(wrong_applied), base::Code::kFailedPrecondition, "last_applied mismatch");
  std::string torn = snap;
  ASSERT_GT(torn.size(), 68u + 2 * 4096);
  std::memset(torn.data() + 68 + 4096, 0x7F, 12);  // page 2's b-tree header: no such page type
  refuse(resign(torn), base::Code::kFailedPrecondition, "broken page under a valid digest");
  std::string not_db = snap;
  std::memset(not_db.data() + 68, 'Q', 16);  // "SQLite format 3\0"
  base::Status st = live->restore(resign(not_db));
  EXPECT_FALSE(st.is_ok());
  EXPECT_EQ(dump(*live), before);

  // An image whose own meta says a newer schema (header and digest in order) is refused.
  {
    auto n = open_ok(dir.file("newer.db"));
    apply_ok(*n, 1, {set("k", "v")});
  }
  raw_sql(dir.file("newer.db"), "UPDATE meta SET value = 4 WHERE key = 'schema_version';");
  // The header is current; the image's meta is not.
  refuse(wrap_image(Store::kSchemaVersion, 1, image_of(dir.file("newer.db"))), base::Code::kFailedPrecondition,
         "newer schema inside the image");

  // Still usable afterwards.
  ASSERT_TRUE(live->restore(snap).is_ok());
  EXPECT_EQ(dump(*live), dump(*a));
}

// Found by tests/fuzz/state_snapshot_fuzz.cc: an image whose tables have the right names but not
// the right columns (kv_tombstones without modify_index) passed every check, replaced the live
// database, and then every open of it failed preparing its statements. An image with a trigger
// of its own would have changed what every later apply does. Restore now requires the image's
// schema objects to match the live database's exactly.
TEST(StateStore, RestoreRefusesAnImageWhoseSchemaDiffers) {
  TempDir dir;
  auto live = open_ok(dir.file("live.db"));
  apply_ok(*live, 1, {set("mine", "keep")});
  const std::string before = dump(*live);

  auto snapshot_of = [&](const char* name, const char* alter) {
    {
      auto s = open_ok(dir.file(name));
      apply_ok(*s, 1, {set("k", "v")});
    }
    raw_sql(dir.file(name), alter);
    return wrap_image(Store::kSchemaVersion, 1, image_of(dir.file(name)));
  };
  struct Case {
    const char* name;
    const char* alter;
  } const cases[] = {
      // (Weft's SQLite has no ALTER TABLE: the table is made again without the column.)
      {"column.db", "DROP TABLE kv_tombstones; CREATE TABLE kv_tombstones(key TEXT PRIMARY KEY) WITHOUT ROWID;"},
      {"trigger.db", "CREATE TRIGGER sneaky AFTER INSERT ON kv BEGIN DELETE FROM kv_tombstones; END;"},
      {"index.db", "CREATE INDEX by_flags ON kv(flags);"},
      {"extra.db", "CREATE TABLE extra(x);"},
      // Not a schema difference, but refused the same way (the backup cannot change page sizes).
      {"pagesize.db", "PRAGMA journal_mode=DELETE; PRAGMA page_size=1024; VACUUM;"},
  };
  for (const Case& c : cases) {
    base::Status st = live->restore(snapshot_of(c.name, c.alter));
    EXPECT_EQ(st.code(), base::Code::kFailedPrecondition) << c.name << ": " << st.to_string();
    EXPECT_EQ(dump(*live), before) << c.name;
  }
  // The control: the same path with a harmless change (a row) is accepted.
  EXPECT_TRUE(live->restore(snapshot_of("control.db", "UPDATE kv SET flags = 9;")).is_ok());
  EXPECT_EQ(get(*live, "k")->flags, 9u);
  live.reset();
  EXPECT_NE(open_ok(dir.file("live.db")), nullptr);
}


// A database as an agent of schema version 1 left it (kv WITHOUT ROWID), with the text that
// version created, a value large enough for overflow pages, a session and a tombstone.
void write_version_1(const std::string& path) {
  raw_sql(path,
          "PRAGMA journal_mode=WAL;"
          "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
          "CREATE TABLE nodes(name TEXT PRIMARY KEY, id TEXT NOT NULL, address TEXT NOT NULL,"
          "  meta BLOB NOT NULL DEFAULT x'') WITHOUT ROWID;"
          "CREATE TABLE kv(key TEXT PRIMARY KEY, value BLOB NOT NULL, flags INTEGER NOT NULL,"
          "  create_index INTEGER NOT NULL, modify_index INTEGER NOT NULL, lock_index INTEGER NOT NULL,"
          "  session TEXT) WITHOUT ROWID;"
          "CREATE TABLE kv_tombstones(key TEXT PRIMARY KEY, modify_index INTEGER NOT NULL) WITHOUT ROWID;"
          "INSERT INTO meta(key, value) VALUES ('schema_version', 1), ('last_applied', 7);"
          "INSERT INTO kv VALUES ('web/a', 'one', 3, 1, 5, 0, NULL);"
          "INSERT INTO kv VALUES ('web/big', zeroblob(6000), 0, 2, 2, 1, 'sess');"
          "INSERT INTO kv VALUES ('db/x', '', 0, 7, 7, 0, NULL);"
          "INSERT INTO kv_tombstones VALUES ('web/gone', 6);"
          "PRAGMA wal_checkpoint(TRUNCATE);");
}

std::string kv_create_sql(const std::string& path) {
  sqlite3* db = nullptr;
  std::string out;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_master WHERE name = 'kv'", -1, &st, nullptr), SQLITE_OK);
  if (sqlite3_step(st) == SQLITE_ROW) out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

// Schema version 2 made kv a rowid table. A version-1 file is migrated at open in one
// transaction: every row and tombstone kept, the version set to 2, kv created with the same text
// as in a new file (so the snapshots of migrated and new servers restore into each other).
TEST(StateStore, AVersion1FileIsMigratedAtOpen) {
  TempDir dir;
  const std::string path = dir.file("old.db");
  write_version_1(path);
  ASSERT_NE(kv_create_sql(path).find("WITHOUT ROWID"), std::string::npos);
  {
    auto s = open_ok(path);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->last_applied(), 7u);
    EXPECT_EQ(get(*s, "web/a")->value, "one");
    EXPECT_EQ(get(*s, "web/a")->flags, 3u);
    EXPECT_EQ(get(*s, "web/a")->modify_index, 5u);
    EXPECT_EQ(get(*s, "web/big")->value, std::string(6000, '\0'));
    EXPECT_EQ(get(*s, "web/big")->session, "sess");
    EXPECT_EQ(get(*s, "web/big")->lock_index, 1u);
    EXPECT_EQ(s->prefix_index("web/").value(), 6u);  // the tombstone survived
    EXPECT_EQ(s->list("").value().size(), 3u);
  }
  EXPECT_EQ(kv_create_sql(path), kv_create_sql([&] {
              std::string fresh = dir.file("fresh.db");
              open_ok(fresh);
              return fresh;
            }()));
  EXPECT_EQ(kv_create_sql(path).find("WITHOUT ROWID"), std::string::npos);

  auto s = open_ok(path);  // a second open finds version 2 and changes nothing
  ASSERT_NE(s, nullptr);
  apply_ok(*s, 8, {set("web/a", "two")});
  EXPECT_EQ(get(*s, "web/a")->create_index, 1u);
  EXPECT_EQ(get(*s, "web/a")->modify_index, 8u);
  // A migrated server's snapshot restores into a new one, and the other way round.
  auto fresh = open_ok(dir.file("fresh2.db"));
  auto snap = s->snapshot();
  ASSERT_TRUE(snap.is_ok());
  ASSERT_TRUE(fresh->restore(snap.value()).is_ok()) << fresh->restore(snap.value()).to_string();
  EXPECT_EQ(dump(*fresh), dump(*s));
  auto other = open_ok(dir.file("other.db"));
  apply_ok(*other, 1, {set("o", "p")});
  EXPECT_TRUE(s->restore(other->snapshot().value()).is_ok());
  EXPECT_EQ(dump(*s), dump(*other));
}

// A snapshot of schema version 1 (the snapshot file a server kept from before its upgrade) is
// migrated in memory and restored; a header that disagrees with its image, and a version-1 image
// carrying a trigger, are refused with the live state untouched.
TEST(StateStore, AVersion1SnapshotIsMigratedAtRestore) {
  TempDir dir;
  const std::string old_path = dir.file("old.db");
  write_version_1(old_path);
  const std::string v1_image = image_of(old_path);

  auto migrated = open_ok(dir.file("copy.db"));
  ASSERT_NE(migrated, nullptr);
  auto live = open_ok(dir.file("live.db"));
  apply_ok(*live, 1, {set("mine", "keep")});
  const std::string before = dump(*live);

  base::Status st = live->restore(wrap_image(2, 7, v1_image));
  EXPECT_EQ(st.code(), base::Code::kFailedPrecondition) << "header 2, image 1: " << st.to_string();
  EXPECT_EQ(dump(*live), before);

  {
    std::string trig = dir.file("trig.db");
    write_version_1(trig);
    raw_sql(trig, "CREATE TRIGGER t AFTER INSERT ON kv_tombstones BEGIN DELETE FROM meta; END;"
                  "PRAGMA wal_checkpoint(TRUNCATE);");
    st = live->restore(wrap_image(1, 7, image_of(trig)));
    EXPECT_EQ(st.code(), base::Code::kFailedPrecondition) << "trigger: " << st.to_string();
    EXPECT_EQ(dump(*live), before);
  }

  st = live->restore(wrap_image(1, 7, v1_image));
  ASSERT_TRUE(st.is_ok()) << st.to_string();
  EXPECT_EQ(live->last_applied(), 7u);
  EXPECT_EQ(get(*live, "web/big")->value, std::string(6000, '\0'));
  EXPECT_EQ(live->prefix_index("web/").value(), 6u);
  EXPECT_FALSE(get(*live, "mine").has_value());
  // The same rows as the same file migrated at open.
  std::filesystem::copy_file(old_path, dir.file("copy2.db"));
  auto at_open = open_ok(dir.file("copy2.db"));
  EXPECT_EQ(dump(*live), dump(*at_open));
  live.reset();
  EXPECT_NE(open_ok(dir.file("live.db")), nullptr);
  EXPECT_EQ(kv_create_sql(dir.file("live.db")).find("WITHOUT ROWID"), std::string::npos);
}

// snapshot() in two steps, as the Raft host takes it (the digest outside its store lock): the
// unsealed image is refused by restore (its digest is zero), sealing it gives snapshot()'s bytes.
TEST(StateStore, AnUnsealedSnapshotIsRefusedAndSealingItGivesTheSnapshot) {
  TempDir dir;
  auto a = open_ok(dir.file("a.db"));
  fill(*a);
  auto unsealed = a->snapshot_unsealed();
  ASSERT_TRUE(unsealed.is_ok());
  auto b = open_ok(dir.file("b.db"));
  EXPECT_EQ(b->restore(unsealed.value()).code(), base::Code::kInvalidArgument);
  std::string sealed = unsealed.value();
  Store::seal_snapshot(&sealed);
  EXPECT_EQ(sealed, a->snapshot().value());
  ASSERT_TRUE(b->restore(sealed).is_ok());
  EXPECT_EQ(dump(*b), dump(*a));
}

}  // namespace
