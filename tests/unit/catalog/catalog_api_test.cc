// Proves CatalogApi answers as Consul's catalog and health endpoints do for the fields the tools
// read (Prometheus consul_sd_configs, Traefik, consul-template): an empty catalog, a node's sync
// through PUT /v1/internal/catalog/sync, every GET's shape, ?tag and ?passing, the node's
// serfHealth, X-Consul-Index moving only with the tables an answer reads, a blocking query woken
// by a change and not by an unrelated write, and bad input. Real loopback HTTP to an
// http::Server, against kvtest::TestBackend (a real state::Store that applies each write at once).
// Every wait pumps the loop until a condition or a deadline; nothing sleeps.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "agent/base/log.h"
#include "agent/catalog/catalog_api.h"
#include "agent/catalog/view.h"
#include "agent/http/client.h"
#include "agent/http/json.h"
#include "agent/http/router.h"
#include "agent/http/server.h"
#include "agent/wire/catalog_command.h"
#include "agent/wire/state_command.h"
#include "hal/posix/posix_env.h"
#include "tests/unit/hal/posix/test_util.h"
#include "tests/unit/kv/test_backend.h"

namespace {

using base::Duration;
using http::ClientResponse;
using wire::CatalogCheck;
using wire::CatalogNode;
using wire::CatalogService;
using wire::CheckHealth;


CatalogNode node(const std::string& name, const std::string& addr, CheckHealth web_health) {
  CatalogNode n;
  n.node = name;
  n.id = "id-" + name;
  n.address = addr;
  n.datacenter = "dc1";
  n.services = {CatalogService{"web-" + name, "web", {"v1", "http"}, "", 8080, {{"version", "2"}}}};
  n.checks = {CatalogCheck{"service:web-" + name, "web alive", web_health, "", "HTTP 200", "web-" + name, "http"}};
  return n;
}

class CatalogApiTest : public ::testing::Test {
 protected:
  CatalogApiTest() : loop_(env_.clock(), env_.poller()) {
    auto s = state::Store::open(dir_.join("state.db"));
    EXPECT_TRUE(s.is_ok()) << s.status().to_string();
    store_ = std::move(s).value();
    backend_ = std::make_unique<kvtest::TestBackend>(loop_, *store_);
    api_ = std::make_unique<catalog::CatalogApi>(loop_, *backend_, logger_);
    api_->add_routes(router_);
    server_ = std::make_unique<http::Server>(loop_, env_.net(), env_.clock(), router_.handler());
    EXPECT_TRUE(server_->listen(hal::SockAddr::ipv4(127, 0, 0, 1, 0)).is_ok());
    addr_ = server_->listen_addr(0).value();
  }
  ~CatalogApiTest() override {
    server_.reset();
    api_.reset();
  }

  ClientResponse call(const std::string& method, const std::string& target, std::string body = "") {
    http::ClientRequest req;
    req.method = method;
    req.target = target;
    req.body = std::move(body);
    auto r = http::http_call(loop_, env_.net(), addr_, req, Duration::seconds(5));
    EXPECT_TRUE(r.is_ok()) << method << " " << target << ": " << r.status().to_string();
    return r.is_ok() ? std::move(r).value() : ClientResponse{};
  }
  ClientResponse get(const std::string& target) { return call("GET", target); }
  void sync(const CatalogNode& n) {
    ClientResponse r = call("PUT", "/v1/internal/catalog/sync", wire::encode_catalog_sync(n).value());
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, "true");
  }
  static http::Json parse(const ClientResponse& r) {
    auto j = http::Json::parse(r.body, 16 << 20);
    EXPECT_TRUE(j.is_ok()) << r.body;
    return j.is_ok() ? std::move(j).value() : http::Json();
  }
  static std::string str(const cJSON* o, const char* k) {
    const cJSON* v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "<absent>";
  }
  static uint64_t index(const ClientResponse& r) {
    const std::string* v = r.header("X-Consul-Index");
    return v == nullptr ? 0 : std::stoull(*v);
  }

  posix_test::TempDir dir_;
  hal::posix::PosixEnv env_;
  runtime::Loop loop_;
  base::Logger logger_;
  std::unique_ptr<state::Store> store_;
  std::unique_ptr<kvtest::TestBackend> backend_;
  http::Router router_;
  std::unique_ptr<catalog::CatalogApi> api_;
  std::unique_ptr<http::Server> server_;
  hal::SockAddr addr_;
};

TEST_F(CatalogApiTest, EmptyCatalogAnswersEmptyShapes) {
  ClientResponse r = get("/v1/catalog/services");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{}");
  EXPECT_EQ(index(r), 1u);  // never 0
  ASSERT_NE(r.header("X-Consul-KnownLeader"), nullptr);
  EXPECT_EQ(get("/v1/catalog/nodes").body, "[]");
  EXPECT_EQ(get("/v1/catalog/node/nope").body, "null");
  EXPECT_EQ(get("/v1/health/service/web").body, "[]");
  EXPECT_EQ(get("/v1/health/state/any").body, "[]");
}

TEST_F(CatalogApiTest, SyncedNodesAnswerInConsulShapes) {
  sync(node("a", "10.0.0.1", CheckHealth::kPassing));
  sync(node("b", "10.0.0.2", CheckHealth::kCritical));

  http::Json services = parse(get("/v1/catalog/services"));
  const cJSON* web = cJSON_GetObjectItemCaseSensitive(services.get(), "web");
  ASSERT_TRUE(cJSON_IsArray(web));
  ASSERT_EQ(cJSON_GetArraySize(web), 2);
  EXPECT_STREQ(cJSON_GetArrayItem(web, 0)->valuestring, "http");  // the tags' union, sorted

  http::Json instances = parse(get("/v1/catalog/service/web"));
  ASSERT_EQ(cJSON_GetArraySize(instances.get()), 2);
  const cJSON* first = cJSON_GetArrayItem(instances.get(), 0);
  EXPECT_EQ(str(first, "Node"), "a");
  EXPECT_EQ(str(first, "Address"), "10.0.0.1");
  EXPECT_EQ(str(first, "ServiceID"), "web-a");
  EXPECT_EQ(str(first, "ServiceName"), "web");
  EXPECT_EQ(str(first, "ServiceAddress"), "");
  EXPECT_EQ(cJSON_GetObjectItemCaseSensitive(first, "ServicePort")->valuedouble, 8080);
  EXPECT_EQ(str(cJSON_GetObjectItemCaseSensitive(first, "ServiceMeta"), "version"), "2");
  EXPECT_EQ(cJSON_GetArraySize(parse(get("/v1/catalog/service/web?tag=v1&tag=http")).get()), 2);
  EXPECT_EQ(cJSON_GetArraySize(parse(get("/v1/catalog/service/web?tag=v2")).get()), 0);

  // Health: every instance with its node's serfHealth and its own check; ?passing drops b's.
  http::Json health = parse(get("/v1/health/service/web"));
  ASSERT_EQ(cJSON_GetArraySize(health.get()), 2);
  const cJSON* entry = cJSON_GetArrayItem(health.get(), 1);
  EXPECT_EQ(str(cJSON_GetObjectItemCaseSensitive(entry, "Node"), "Node"), "b");
  EXPECT_EQ(str(cJSON_GetObjectItemCaseSensitive(entry, "Service"), "Service"), "web");
  const cJSON* checks = cJSON_GetObjectItemCaseSensitive(entry, "Checks");
  ASSERT_EQ(cJSON_GetArraySize(checks), 2);
  EXPECT_EQ(str(cJSON_GetArrayItem(checks, 0), "CheckID"), "serfHealth");
  EXPECT_EQ(str(cJSON_GetArrayItem(checks, 1), "Status"), "critical");
  EXPECT_EQ(str(cJSON_GetArrayItem(checks, 1), "ServiceName"), "web");
  http::Json passing = parse(get("/v1/health/service/web?passing"));
  ASSERT_EQ(cJSON_GetArraySize(passing.get()), 1);
  EXPECT_EQ(str(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(passing.get(), 0), "Node"), "Node"), "a");

  // A node declared dead by gossip: its serfHealth goes critical and its instance is not passing.
  ASSERT_TRUE(backend_->applied_index() > 0);
  bool applied = false;
  backend_->write(wire::encode_catalog_node_health({"a", CheckHealth::kCritical, "Agent not live or unreachable"}).value(),
                  [&](base::Result<state::ApplyResult> r) { applied = r.is_ok(); });
  for (int i = 0; i < 100 && !applied; ++i) ASSERT_TRUE(loop_.run_once(Duration::millis(5)).is_ok());
  ASSERT_TRUE(applied);
  EXPECT_EQ(get("/v1/health/service/web?passing").body, "[]");
  EXPECT_EQ(cJSON_GetArraySize(parse(get("/v1/health/state/critical")).get()), 2);
  EXPECT_EQ(cJSON_GetArraySize(parse(get("/v1/health/node/a")).get()), 2);
  EXPECT_EQ(cJSON_GetArraySize(parse(get("/v1/health/checks/web")).get()), 2);

  http::Json n = parse(get("/v1/catalog/node/b"));
  EXPECT_EQ(str(cJSON_GetObjectItemCaseSensitive(n.get(), "Node"), "Address"), "10.0.0.2");
  const cJSON* svcs = cJSON_GetObjectItemCaseSensitive(n.get(), "Services");
  EXPECT_EQ(str(cJSON_GetObjectItemCaseSensitive(svcs, "web-b"), "Service"), "web");
  EXPECT_EQ(cJSON_GetArraySize(parse(get("/v1/catalog/nodes")).get()), 2);
}

TEST_F(CatalogApiTest, IndexMovesOnlyWithTheTablesAnAnswerReads) {
  sync(node("a", "10.0.0.1", CheckHealth::kPassing));
  const uint64_t services_at = index(get("/v1/catalog/services"));
  const uint64_t health_at = index(get("/v1/health/service/web"));
  // A check's status changes: health moves, the services list does not.
  sync(node("a", "10.0.0.1", CheckHealth::kWarning));
  EXPECT_EQ(index(get("/v1/catalog/services")), services_at);
  EXPECT_GT(index(get("/v1/health/service/web")), health_at);
  // The same state again (anti-entropy's periodic push) moves nothing, and is not even proposed.
  const uint64_t before = index(get("/v1/health/service/web"));
  const uint64_t writes = backend_->writes();
  sync(node("a", "10.0.0.1", CheckHealth::kWarning));
  EXPECT_EQ(index(get("/v1/health/service/web")), before);
  EXPECT_EQ(backend_->writes(), writes);
  EXPECT_EQ(api_->syncs_unchanged(), 1u);
  // Any difference is proposed: a tag, an output.
  CatalogNode changed = node("a", "10.0.0.1", CheckHealth::kWarning);
  changed.checks[0].output = "HTTP 200 (slow)";
  sync(changed);
  EXPECT_EQ(backend_->writes(), writes + 1);
  changed.services[0].tags.push_back("canary");
  sync(changed);
  EXPECT_EQ(backend_->writes(), writes + 2);
  EXPECT_EQ(api_->syncs_proposed(), 4u);
}

TEST_F(CatalogApiTest, BlockingQueryWokenByAChangeNotByAnUnrelatedWrite) {
  sync(node("a", "10.0.0.1", CheckHealth::kPassing));
  const uint64_t at = index(get("/v1/health/service/web"));
  // A KV write moves the applied index but not the catalog's: the query re-reads and stays parked
  // until its wait ends (300 ms), answering the same index.
  auto kv = wire::encode_state_command({.type = wire::StateCommandType::kKvSet, .key = "x", .value = "1"});
  ASSERT_TRUE(kv.is_ok());
  auto t1 = loop_.arm_after(Duration::millis(50), [&] { backend_->write(*kv, [](base::Result<state::ApplyResult>) {}); });
  ASSERT_TRUE(t1.is_ok());
  base::MonoTime start = loop_.refresh_now();
  ClientResponse same = get("/v1/health/service/web?index=" + std::to_string(at) + "&wait=300ms");
  EXPECT_EQ(same.status, 200);
  EXPECT_EQ(index(same), at);
  EXPECT_GE((loop_.refresh_now() - start).ns(), Duration::millis(300).ns());
  // A change to the service's check wakes it well before its 10 s wait.
  auto t2 = loop_.arm_after(Duration::millis(50), [&] {
    backend_->write(wire::encode_catalog_sync(node("a", "10.0.0.1", CheckHealth::kCritical)).value(),
                    [](base::Result<state::ApplyResult>) {});
  });
  ASSERT_TRUE(t2.is_ok());
  start = loop_.refresh_now();
  ClientResponse woken = get("/v1/health/service/web?index=" + std::to_string(at) + "&wait=10s");
  EXPECT_GT(index(woken), at);
  EXPECT_LT((loop_.refresh_now() - start).ns(), Duration::seconds(4).ns());
  EXPECT_NE(woken.body.find("critical"), std::string::npos);
}

// The agents' DNS views read /v1/internal/catalog/view: every instance with the worst of its own
// and its node's checks, parsed back by CatalogView::parse (the service's address, else the
// node's).
TEST_F(CatalogApiTest, ViewGivesEachInstanceItsWorstHealth) {
  sync(node("a", "10.0.0.1", CheckHealth::kWarning));
  CatalogNode b = node("b", "10.0.0.2", CheckHealth::kPassing);
  b.services[0].address = "10.0.0.22";
  sync(b);
  ClientResponse r = get("/v1/internal/catalog/view");
  ASSERT_EQ(r.status, 200);
  std::vector<catalog::ViewInstance> v;
  ASSERT_TRUE(catalog::CatalogView::parse(r.body, 1 << 20, &v)) << r.body;
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].node, "a");
  EXPECT_EQ(v[0].address, "10.0.0.1");
  EXPECT_EQ(v[0].health, CheckHealth::kWarning);
  EXPECT_EQ(v[0].tags, (std::vector<std::string>{"v1", "http"}));
  EXPECT_EQ(v[1].address, "10.0.0.22");
  EXPECT_EQ(v[1].health, CheckHealth::kPassing);
  // b declared dead by gossip: its instance is critical although its own check passes.
  bool applied = false;
  backend_->write(wire::encode_catalog_node_health({"b", CheckHealth::kCritical, "gone"}).value(),
                  [&](base::Result<state::ApplyResult> res) { applied = res.is_ok(); });
  for (int i = 0; i < 100 && !applied; ++i) ASSERT_TRUE(loop_.run_once(Duration::millis(5)).is_ok());
  ASSERT_TRUE(catalog::CatalogView::parse(get("/v1/internal/catalog/view").body, 1 << 20, &v));
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[1].health, CheckHealth::kCritical);
  // Answers that are not a view are refused, not half-read.
  for (const char* bad : {"", "[]", "{\"Nodes\":{}}", "{\"Nodes\":[{\"Node\":\"a\"}]}",
                          "{\"Nodes\":[{\"Node\":\"a\",\"Address\":\"x\",\"Services\":[{\"Service\":\"s\",\"Tags\":[],"
                          "\"Address\":\"\",\"Port\":70000,\"Health\":\"passing\"}]}]}",
                          "{\"Nodes\":[{\"Node\":\"a\",\"Address\":\"x\",\"Services\":[{\"Service\":\"s\",\"Tags\":[],"
                          "\"Address\":\"\",\"Port\":1,\"Health\":\"fine\"}]}]}"}) {
    std::vector<catalog::ViewInstance> keep = v;
    EXPECT_FALSE(catalog::CatalogView::parse(bad, 1 << 20, &keep)) << bad;
    EXPECT_EQ(keep.size(), v.size()) << bad;
  }
  EXPECT_FALSE(catalog::CatalogView::parse(get("/v1/internal/catalog/view").body, 10, &v));  // over its bound
}

TEST_F(CatalogApiTest, BadInputIsRefused) {
  ClientResponse r = call("PUT", "/v1/internal/catalog/sync", "not a command");
  EXPECT_EQ(r.status, 400);
  std::string truncated = wire::encode_catalog_sync(node("a", "10.0.0.1", CheckHealth::kPassing)).value();
  truncated.pop_back();
  EXPECT_EQ(call("PUT", "/v1/internal/catalog/sync", truncated).status, 400);
  EXPECT_EQ(get("/v1/health/state/sideways").status, 400);
  EXPECT_EQ(get("/v1/catalog/services?stale&consistent").status, 400);
  EXPECT_EQ(get("/v1/catalog/services?index=x").status, 400);
  EXPECT_EQ(get("/v1/catalog/nodes").body, "[]");  // nothing was applied
}

}  // namespace
