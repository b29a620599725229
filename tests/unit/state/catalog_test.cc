// state::Store's service catalog (schema version 3) and wire/catalog_command.h: a node's sync
// makes the catalog hold exactly its services and checks, rewriting only rows that changed (so
// the table indexes, X-Consul-Index, move only on a change); serfHealth belongs to gossip;
// deregistration; encoding round trips and refusals; a version-2 file migrates; snapshots carry it.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>
#include <vector>

#include "agent/state/store.h"
#include "agent/wire/catalog_command.h"
#include "tests/unit/hal/posix/test_util.h"

using state::CatalogTable;
using state::Store;
using wire::CatalogCheck;
using wire::CatalogNode;
using wire::CatalogService;
using wire::CheckHealth;

namespace {


std::unique_ptr<Store> open_ok(const std::string& path) {
  auto r = Store::open(path);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return r.is_ok() ? std::move(r).value() : nullptr;
}

CatalogNode node_a() {
  CatalogNode n;
  n.node = "a";
  n.id = "0f0e";
  n.address = "10.0.0.1";
  n.datacenter = "dc1";
  n.meta = {{"rack", "r1"}};
  n.services = {CatalogService{"web-1", "web", {"v1", "http"}, "", 8080, {}},
                CatalogService{"db", "db", {}, "10.0.0.9", 5432, {{"role", "primary"}}}};
  n.checks = {CatalogCheck{"service:web-1", "web alive", CheckHealth::kPassing, "", "HTTP 200", "web-1", "http"},
              CatalogCheck{"disk", "disk", CheckHealth::kWarning, "", "80% full", "", "ttl"}};
  return n;
}

std::string sync_cmd(const CatalogNode& n) {
  auto r = wire::encode_catalog_sync(n);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return r.is_ok() ? *r : std::string();
}

void apply_ok(Store& s, uint64_t index, const std::string& cmd) {
  auto r = s.apply(index, std::vector<std::string>{cmd});
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  ASSERT_TRUE((*r)[0].status.is_ok()) << (*r)[0].status.to_string();
}

uint64_t idx(const Store& s, CatalogTable t) { return s.catalog_index(t).value(); }

std::string dump(const Store& s) {
  std::string out;
  const auto nodes = s.catalog_nodes().value();
  for (const auto& n : nodes) {
    out += "node " + n.name + " " + n.address + " c" + std::to_string(n.create_index) + " m" + std::to_string(n.modify_index) + "\n";
    const auto services = s.catalog_services_of_node(n.name).value();
    for (const auto& r : services) {
      out += "  svc " + r.service.id + " " + r.service.name + ":" + std::to_string(r.service.port) + " tags" +
             std::to_string(r.service.tags.size()) + " c" + std::to_string(r.create_index) + " m" + std::to_string(r.modify_index) + "\n";
    }
    const auto checks = s.catalog_checks_of_node(n.name).value();
    for (const auto& c : checks) {
      out += "  chk " + c.check.id + " " + wire::check_health_name(c.check.status) + " svc=" + c.service_name + " c" +
             std::to_string(c.create_index) + " m" + std::to_string(c.modify_index) + "\n";
    }
  }
  return out;
}

TEST(Catalog, SyncHoldsExactlyTheNodesStateAndMovesIndexesOnlyOnChange) {
  posix_test::TempDir dir;
  auto s = open_ok(dir.join("state.db"));
  EXPECT_EQ(idx(*s, CatalogTable::kServices), 0u);
  apply_ok(*s, 1, sync_cmd(node_a()));
  EXPECT_EQ(idx(*s, CatalogTable::kNodes), 1u);
  EXPECT_EQ(idx(*s, CatalogTable::kServices), 1u);
  EXPECT_EQ(idx(*s, CatalogTable::kChecks), 1u);
  auto web = s->catalog_service_instances("web").value();
  ASSERT_EQ(web.size(), 1u);
  EXPECT_EQ(web[0].node, "a");
  EXPECT_EQ(web[0].service.tags, (std::vector<std::string>{"v1", "http"}));
  auto checks = s->catalog_checks_of_node("a").value();
  ASSERT_EQ(checks.size(), 3u);  // by id: disk, the serfHealth a syncing node gets, service:web-1
  EXPECT_EQ(checks[1].check.id, "serfHealth");
  EXPECT_EQ(checks[1].check.status, CheckHealth::kPassing);
  EXPECT_EQ(checks[2].service_name, "web");

  // The same state again (anti-entropy's periodic push): the store says it holds it already...
  EXPECT_TRUE(s->catalog_holds(node_a()).value());
  CatalogNode other = node_a();
  other.checks[1].output = "81% full";
  EXPECT_FALSE(s->catalog_holds(other).value());
  other = node_a();
  other.services.pop_back();
  EXPECT_FALSE(s->catalog_holds(other).value());
  other = node_a();
  other.node = "b";
  EXPECT_FALSE(s->catalog_holds(other).value());
  // ...and applying it anyway rewrites nothing.
  const std::string before = dump(*s);
  apply_ok(*s, 2, sync_cmd(node_a()));
  EXPECT_EQ(dump(*s), before);
  EXPECT_EQ(idx(*s, CatalogTable::kServices), 1u);
  EXPECT_EQ(idx(*s, CatalogTable::kChecks), 1u);

  // One check changes status: only it, and only the checks index, move.
  CatalogNode n = node_a();
  n.checks[0].status = CheckHealth::kCritical;
  apply_ok(*s, 3, sync_cmd(n));
  EXPECT_EQ(idx(*s, CatalogTable::kChecks), 3u);
  EXPECT_EQ(idx(*s, CatalogTable::kServices), 1u);
  EXPECT_EQ(idx(*s, CatalogTable::kNodes), 1u);
  const auto after = s->catalog_checks_of_node("a").value();
  for (const auto& c : after) {
    EXPECT_EQ(c.modify_index, c.check.id == "service:web-1" ? 3u : 1u) << c.check.id;
    EXPECT_EQ(c.create_index, 1u);
  }
  EXPECT_EQ(s->catalog_checks(CheckHealth::kCritical).value().size(), 1u);

  // A service goes (with its check); a tag changes on the other.
  n.services.erase(n.services.begin());
  n.checks.erase(n.checks.begin());
  n.services[0].tags = {"replica"};
  apply_ok(*s, 4, sync_cmd(n));
  EXPECT_TRUE(s->catalog_service_instances("web").value().empty());
  auto db = s->catalog_service_instances("db").value();
  ASSERT_EQ(db.size(), 1u);
  EXPECT_EQ(db[0].create_index, 1u);
  EXPECT_EQ(db[0].modify_index, 4u);
  EXPECT_EQ(idx(*s, CatalogTable::kServices), 4u);
  EXPECT_EQ(idx(*s, CatalogTable::kChecks), 4u);
  auto names = s->catalog_service_names().value();
  ASSERT_EQ(names.size(), 1u);
  EXPECT_EQ(names[0].first, "db");
  EXPECT_EQ(names[0].second, (std::vector<std::string>{"replica"}));
}

TEST(Catalog, SerfHealthBelongsToGossipAndDeregisterRemovesAll) {
  posix_test::TempDir dir;
  auto s = open_ok(dir.join("state.db"));
  // Health for a node the catalog does not know changes nothing.
  apply_ok(*s, 1, wire::encode_catalog_node_health({"ghost", CheckHealth::kCritical, "gone"}).value());
  EXPECT_TRUE(s->catalog_nodes().value().empty());
  EXPECT_EQ(idx(*s, CatalogTable::kChecks), 0u);

  apply_ok(*s, 2, sync_cmd(node_a()));
  apply_ok(*s, 3, wire::encode_catalog_node_health({"a", CheckHealth::kCritical, "Agent not live or unreachable"}).value());
  auto critical = s->catalog_checks(CheckHealth::kCritical).value();
  ASSERT_EQ(critical.size(), 1u);
  EXPECT_EQ(critical[0].check.id, "serfHealth");
  EXPECT_EQ(critical[0].create_index, 2u);
  EXPECT_EQ(critical[0].modify_index, 3u);
  // The node's own sync does not bring it back to passing (gossip says when it is alive)...
  apply_ok(*s, 4, sync_cmd(node_a()));
  EXPECT_EQ(s->catalog_checks(CheckHealth::kCritical).value().size(), 1u);
  EXPECT_EQ(idx(*s, CatalogTable::kChecks), 3u);
  // ...and a sync naming serfHealth cannot overwrite it.
  CatalogNode n = node_a();
  n.checks.push_back(CatalogCheck{"serfHealth", "x", CheckHealth::kPassing, "", "", "", "serf"});
  apply_ok(*s, 5, sync_cmd(n));
  EXPECT_EQ(s->catalog_checks(CheckHealth::kCritical).value().size(), 1u);
  apply_ok(*s, 6, wire::encode_catalog_node_health({"a", CheckHealth::kPassing, "Agent alive and reachable"}).value());
  EXPECT_TRUE(s->catalog_checks(CheckHealth::kCritical).value().empty());

  apply_ok(*s, 7, wire::encode_catalog_deregister("a").value());
  EXPECT_TRUE(s->catalog_nodes().value().empty());
  EXPECT_TRUE(s->catalog_checks(std::nullopt).value().empty());
  EXPECT_TRUE(s->catalog_service_names().value().empty());
  EXPECT_EQ(idx(*s, CatalogTable::kNodes), 7u);
  EXPECT_EQ(idx(*s, CatalogTable::kServices), 7u);
  EXPECT_EQ(idx(*s, CatalogTable::kChecks), 7u);
  // Deregistering an absent node moves nothing.
  apply_ok(*s, 8, wire::encode_catalog_deregister("a").value());
  EXPECT_EQ(idx(*s, CatalogTable::kNodes), 7u);
}

TEST(Catalog, CommandsRoundTripAndBadOnesAreRefusedByEveryReplicaAlike) {
  CatalogNode n = node_a();
  auto back = wire::decode_catalog_sync(sync_cmd(n));
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  EXPECT_EQ(*back, n);
  // Every strict prefix fails to decode; so does a trailing byte.
  const std::string whole = sync_cmd(n);
  for (size_t len = 0; len < whole.size(); ++len) {
    EXPECT_FALSE(wire::decode_catalog_sync(whole.substr(0, len)).is_ok()) << len;
  }
  EXPECT_FALSE(wire::decode_catalog_sync(whole + "x").is_ok());
  // One encoding per command: a length written as a longer varint is refused (found by
  // catalog_command_fuzz).
  EXPECT_TRUE(wire::decode_catalog_deregister(std::string("\x01\x07\x01" "a", 4)).is_ok());
  EXPECT_FALSE(wire::decode_catalog_deregister(std::string("\x01\x07\x81\x00" "a", 5)).is_ok());

  struct Bad {
    const char* what;
    void (*edit)(CatalogNode&);
  } const bad[] = {
      {"no node name", [](CatalogNode& m) { m.node.clear(); }},
      {"service id twice", [](CatalogNode& m) { m.services[1].id = m.services[0].id; }},
      {"check of an unknown service", [](CatalogNode& m) { m.checks[0].service_id = "nope"; }},
      {"check id twice", [](CatalogNode& m) { m.checks[1].id = m.checks[0].id; }},
      {"unsorted meta", [](CatalogNode& m) { m.meta = {{"z", "1"}, {"a", "2"}}; }},
      {"oversized output", [](CatalogNode& m) { m.checks[0].output = std::string(wire::kCatalogOutputBytesMax + 1, 'o'); }},
      {"bad UTF-8", [](CatalogNode& m) { m.services[0].tags[0] = "\xff"; }},
      {"too many tags", [](CatalogNode& m) { m.services[0].tags.assign(wire::kCatalogTagsMax + 1, "t"); }},
  };
  posix_test::TempDir dir;
  auto s = open_ok(dir.join("state.db"));
  uint64_t index = 1;
  for (const Bad& b : bad) {
    CatalogNode m = node_a();
    b.edit(m);
    EXPECT_FALSE(wire::encode_catalog_sync(m).is_ok()) << b.what;
    // Bytes that claim it anyway (a buggy or hostile proposer) are an error result, not a change.
    std::string forged = sync_cmd(node_a());
    forged[5] ^= 0x01;  // inside the node name's bytes or length
    auto r = s->apply(index, std::vector<std::string>{forged, std::string("\x01\x06", 2)});
    ASSERT_TRUE(r.is_ok());
    EXPECT_FALSE((*r)[1].status.is_ok()) << b.what;
    index += 2;
  }
  auto h = wire::decode_catalog_node_health(wire::encode_catalog_node_health({"a", CheckHealth::kWarning, "o"}).value());
  ASSERT_TRUE(h.is_ok());
  EXPECT_EQ(h->status, CheckHealth::kWarning);
  std::string bad_status = wire::encode_catalog_node_health({"a", CheckHealth::kWarning, "o"}).value();
  bad_status[2 + 1 + 1] = 7;  // header, name length, name, then the status byte
  EXPECT_FALSE(wire::decode_catalog_node_health(bad_status).is_ok());
}

TEST(Catalog, VersionTwoFileMigratesAndSnapshotsCarryTheCatalog) {
  posix_test::TempDir dir;
  const std::string path = dir.join("v2.db");
  { auto s = open_ok(path); }
  {
    // Make it what a version-2 agent wrote: no catalog tables, no catalog indexes.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "DROP TABLE catalog_nodes; DROP TABLE catalog_services; DROP TABLE catalog_checks;"
                           "DELETE FROM meta WHERE key LIKE 'catalog_%'; UPDATE meta SET value = 2 WHERE key = 'schema_version';",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  auto s = open_ok(path);
  ASSERT_NE(s, nullptr);
  apply_ok(*s, 1, sync_cmd(node_a()));
  // A snapshot of the migrated file restores into a new one: their schemas are the same text.
  auto fresh = open_ok(dir.join("fresh.db"));
  auto snap = s->snapshot();
  ASSERT_TRUE(snap.is_ok());
  ASSERT_TRUE(fresh->restore(*snap).is_ok());
  EXPECT_EQ(dump(*fresh), dump(*s));
  EXPECT_FALSE(dump(*fresh).empty());
}

}  // namespace
