// Service registrations: Consul's JSON decoded (member names in any case, the members Weft
// ignores), every rule refused with the member named, the AgentService shape, and
// LocalServices keeping its registrations in services.json across a reload (a corrupt file an
// error that names it, a failed write fatal).
#include "agent/catalog/local.h"

#include <gtest/gtest.h>

#include <string>
#include <tuple>

#include "agent/http/server.h"
#include "hal/posix/posix_env.h"
#include "hal/posix/posix_fs.h"
#include "tests/unit/hal/posix/test_util.h"

namespace catalog {
namespace {

constexpr size_t kMax = 128 * 1024;

Service ok(const std::string& body) {
  auto r = decode_registration(body, kMax);
  EXPECT_TRUE(r.is_ok()) << body << ": " << r.status().to_string();
  return r.is_ok() ? *r : Service{};
}

void refused(const std::string& body, const std::string& names) {
  auto r = decode_registration(body, kMax);
  ASSERT_FALSE(r.is_ok()) << body;
  EXPECT_EQ(r.status().code(), base::Code::kInvalidArgument) << body;
  EXPECT_NE(r.status().message().find(names), std::string::npos) << body << ": " << r.status().message();
}

TEST(CatalogService, DecodesConsulsShape) {
  Service s = ok(R"({"ID":"web-1","Name":"web","Tags":["v2","http"],"Address":"10.1.2.3","Port":8080,
                    "Meta":{"version":"2.1"},"EnableTagOverride":false,"Weights":{"Passing":1,"Warning":1},
                    "TaggedAddresses":{},"Kind":""})");
  EXPECT_EQ(s.id, "web-1");
  EXPECT_EQ(s.name, "web");
  EXPECT_EQ(s.tags, (std::vector<std::string>{"v2", "http"}));
  EXPECT_EQ(s.address, "10.1.2.3");
  EXPECT_EQ(s.ip.family, hal::AddrFamily::kIpv4);
  EXPECT_EQ(s.ip.ip[3], 3);
  EXPECT_EQ(s.port, 8080);
  EXPECT_EQ(s.meta.at("version"), "2.1");
  // Case-insensitive member names (Go's encoding/json); the ID defaults to the name; null lists.
  s = ok(R"({"name":"db","PORT":5432,"tags":null,"meta":null,"address":"fd00::5"})");
  EXPECT_EQ(s.id, "db");
  EXPECT_EQ(s.port, 5432);
  EXPECT_EQ(s.ip.family, hal::AddrFamily::kIpv6);
  EXPECT_TRUE(s.tags.empty());
  s = ok(R"({"Name":"a_b-9","Port":0,"Check":null})");
  EXPECT_EQ(s.name, "a_b-9");
  EXPECT_TRUE(s.checks.empty());
  // Checks, with Consul's defaults; members of other kinds that are empty are accepted.
  s = ok(R"({"ID":"w1","Name":"web","Check":{"TTL":"30s","HTTP":"","Interval":null}})");
  ASSERT_EQ(s.checks.size(), 1u);
  EXPECT_EQ(s.checks[0].id, "service:w1");
  EXPECT_EQ(s.checks[0].name, "Service 'web' check");
  EXPECT_EQ(s.checks[0].ttl_ns, 30'000'000'000);
  EXPECT_EQ(s.checks[0].initial, CheckStatus::kCritical);
  s = ok(R"({"ID":"w1","Name":"web","Checks":[{"TTL":"1s"},{"ttl":"1m30s","checkid":"mine","status":"passing","notes":"n"}]})");
  ASSERT_EQ(s.checks.size(), 2u);
  EXPECT_EQ(s.checks[0].id, "service:w1:1");
  EXPECT_EQ(s.checks[1].id, "mine");
  EXPECT_EQ(s.checks[1].ttl_ns, 90'000'000'000);
  EXPECT_EQ(s.checks[1].initial, CheckStatus::kPassing);
  EXPECT_EQ(s.checks[1].notes, "n");
  s = ok(R"({"Name":"db","Check":{"TCP":"[fd00::5]:5432","Interval":"10s","TTL":null}})");
  ASSERT_EQ(s.checks.size(), 1u);
  EXPECT_EQ(s.checks[0].tcp_addr.family, hal::AddrFamily::kIpv6);
  EXPECT_EQ(s.checks[0].tcp_addr.port, 5432);
  EXPECT_EQ(s.checks[0].interval_ns, 10'000'000'000);
  EXPECT_EQ(s.checks[0].timeout_ns, 10'000'000'000);  // Consul's default
  s = ok(R"({"Name":"web","Check":{"HTTP":"http://10.0.0.5:8080/health?deep=1","Interval":"5s","Timeout":"1s",
                                    "Header":{"X-A":["b","c"]},"TLSSkipVerify":false}})");
  ASSERT_EQ(s.checks.size(), 1u);
  EXPECT_EQ(s.checks[0].tcp_addr.port, 8080);
  EXPECT_EQ(s.checks[0].http_target, "/health?deep=1");
  EXPECT_EQ(s.checks[0].method, "GET");
  EXPECT_EQ(s.checks[0].headers.size(), 2u);
  s = ok(R"({"Name":"web","Check":{"HTTP":"http://[fd00::5]","Interval":"5s"}})");
  EXPECT_EQ(s.checks[0].tcp_addr.port, 80);
  EXPECT_EQ(s.checks[0].http_target, "/");
}

// Consul's config files spell members in snake_case (and its HTTP API translates them): '_' is
// ignored in member names, so "check_id" is CheckID -- and given beside CheckID it is a duplicate.
// Meta keys keep their underscores.
TEST(CatalogService, SnakeCaseMembers) {
  Service s = ok(R"({"name":"web","enable_tag_override":true,"tagged_addresses":{},"meta":{"my_key":"v"},
                    "check":{"check_id":"c1","tcp":"127.0.0.1:80","interval":"10s","success_before_passing":2,
                             "failures_before_critical":3}})");
  ASSERT_EQ(s.checks.size(), 1u);
  EXPECT_EQ(s.checks[0].id, "c1");
  EXPECT_EQ(s.checks[0].success_before_passing, 2);
  EXPECT_EQ(s.checks[0].failures_before_critical, 3);
  EXPECT_EQ(s.meta.count("my_key"), 1u);
  refused(R"({"name":"web","check":{"check_id":"a","CheckID":"b","ttl":"10s"}})", "given twice");
  refused(R"({"name":"web","Port":1,"po_rt":2})", "given twice");
  refused(R"({"name":"web","check":{"grpc_use_tls":true,"ttl":"10s"}})", "grpc_use_tls");
  // Args (exec) checks: a list of strings, the program first; with an Interval; not beside TTL.
  s = ok(R"({"name":"web","check":{"args":["/bin/true","-x"],"interval":"5s","timeout":"1s"}})");
  ASSERT_EQ(s.checks.size(), 1u);
  EXPECT_EQ(s.checks[0].args, (std::vector<std::string>{"/bin/true", "-x"}));
  EXPECT_EQ(s.checks[0].timeout_ns, 1'000'000'000);
  refused(R"({"name":"web","check":{"args":[],"interval":"5s"}})", "list of 1 to 64 strings");
  refused(R"({"name":"web","check":{"args":["/bin/true",1],"interval":"5s"}})", "list of 1 to 64 strings");
  refused(R"({"name":"web","check":{"args":["/bin/true"]}})", "needs an Interval");
  refused(R"({"name":"web","check":{"args":["/bin/true"],"ScriptArgs":["/bin/false"],"interval":"5s"}})", "same member");
  refused(R"({"name":"web","check":{"args":["/bin/true"],"ttl":"10s"}})", "exactly one of");
}

TEST(CatalogService, RefusesWithTheMemberNamed) {
  refused(R"({"Name":"x","Prot":1,"Tgas":[]})", "unknown member(s): Prot, Tgas");
  refused(R"({"Port":1})", "Name is required");
  // A member given twice in one object, in any case (found by service_registration_fuzz: the
  // repeated Header and Interval of a check read differently on the way back).
  refused(R"({"Name":"x","name":"y"})", "member \"name\" is given twice");
  refused(R"({"Name":"x","Check":{"TTL":"10s","ttl":"20s"}})", "check member \"ttl\" is given twice");
  refused(R"({"Name":"x","Meta":{"a":"1","a":"2"}})", "Meta member \"a\" is given twice");
  refused(R"({"Name":""})", "Name is required");
  refused(R"({"Name":"a.b"})", "Name \"a.b\"");
  refused(R"({"Name":")" + std::string(64, 'x') + R"("})", "Name");
  refused(R"({"Name":7})", "Name must be a string");
  refused(R"({"Name":"x","ID":"a/b"})", "ID \"a/b\"");
  refused(R"({"Name":"x","ID":")" + std::string(129, 'i') + R"("})", "ID");
  refused(R"({"Name":"x","Tags":"v1"})", "Tags must be an array");
  refused(R"({"Name":"x","Tags":[""]})", "tag \"\"");
  refused(R"({"Name":"x","Tags":["a\nb"]})", "tag");
  std::string many = R"({"Name":"x","Tags":[)";
  for (int i = 0; i < 65; ++i) many += std::string(i ? "," : "") + "\"t" + std::to_string(i) + "\"";
  refused(many + "]}", "at most 64 tags");
  refused(R"({"Name":"x","Address":"web.example.com"})", "Address");
  refused(R"({"Name":"x","Address":"10.0.0.1:80"})", "Address");
  refused(R"({"Name":"x","Address":"[::1]"})", "Address");
  refused(R"({"Name":"x","Address":"/run/x.sock"})", "Address");
  refused(R"({"Name":"x","Port":65536})", "Port");
  refused(R"({"Name":"x","Port":-1})", "Port");
  refused(R"({"Name":"x","Port":1.5})", "Port");
  refused(R"({"Name":"x","Meta":{"consul-x":"y"}})", "reserved");
  refused(R"({"Name":"x","Meta":{"a b":"y"}})", "Meta key");
  refused(R"({"Name":"x","Meta":{"k":1}})", "Meta \"k\"");
  refused(R"({"Name":"x","Meta":{"k":")" + std::string(513, 'v') + R"("}})", "512");
  refused(R"({"Name":"x","Check":{"GRPC":"127.0.0.1:1","Interval":"10s"}})", "check GRPC: only TTL, TCP, HTTP and Args");
  refused(R"({"Name":"x","Check":{"Name":"c"}})", "exactly one of TTL, TCP, HTTP and Args");
  refused(R"({"Name":"x","Check":{"TTL":"1s","TCP":"127.0.0.1:1","Interval":"1s"}})", "exactly one of TTL, TCP, HTTP and Args");
  refused(R"({"Name":"x","Check":{"TTL":"1s","Interval":"1s"}})", "apply to TCP, HTTP and Args checks");
  refused(R"({"Name":"x","Check":{"HTTP":"https://127.0.0.1/","Interval":"1s"}})", "https checks are not supported");
  refused(R"({"Name":"x","Check":{"HTTP":"http://web.example/","Interval":"1s"}})", "the host must be an IP address");
  refused(R"({"Name":"x","Check":{"HTTP":"ftp://127.0.0.1/","Interval":"1s"}})", "want an http:// URL");
  refused(R"({"Name":"x","Check":{"HTTP":"http://127.0.0.1/a b","Interval":"1s"}})", "spaces");
  refused(R"({"Name":"x","Check":{"HTTP":"http://u@127.0.0.1/","Interval":"1s"}})", "the host");
  refused(R"({"Name":"x","Check":{"HTTP":"http://127.0.0.1/","Method":"DELETE","Interval":"1s"}})", "Method \"DELETE\"");
  refused(R"({"Name":"x","Check":{"HTTP":"http://127.0.0.1/","Header":{"X":"y"},"Interval":"1s"}})", "check Header \"X\"");
  refused(R"({"Name":"x","Check":{"HTTP":"http://127.0.0.1/","Header":{"X":["a"],"x":["b"]},"Interval":"1s"}})", "given twice");
  refused(R"({"Name":"x","Check":{"TCP":"127.0.0.1:1","Method":"GET","Interval":"1s"}})", "HTTP checks only");
  refused(R"({"Name":"x","Check":{"TCP":"127.0.0.1:1","Interval":"1s","SuccessBeforePassing":101}})", "SuccessBeforePassing");
  refused(R"({"Name":"x","Check":{"TCP":"127.0.0.1:1","Interval":"1s","FailuresBeforeCritical":"2"}})", "FailuresBeforeCritical");
  refused(R"({"Name":"x","Check":{"TTL":"1s","FailuresBeforeCritical":2}})", "not TTL ones");
  refused(R"({"Name":"x","Check":{"TCP":"127.0.0.1:80"}})", "needs an Interval");
  refused(R"({"Name":"x","Check":{"TCP":"db.example:80","Interval":"10s"}})", "check TCP \"db.example:80\"");
  refused(R"({"Name":"x","Check":{"TCP":"127.0.0.1","Interval":"10s"}})", "check TCP");
  refused(R"({"Name":"x","Check":{"TCP":"127.0.0.1:80","Interval":"500ms"}})", "Interval \"500ms\"");
  refused(R"({"Name":"x","Check":{"TCP":"127.0.0.1:80","Interval":"5s","Timeout":"10m"}})", "Timeout \"10m\"");
  refused(R"({"Name":"x","Check":{"TTL":"10"}})", "TTL \"10\"");
  refused(R"({"Name":"x","Check":{"TTL":"50ms"}})", "TTL");
  refused(R"({"Name":"x","Check":{"TTL":"25h"}})", "TTL");
  refused(R"({"Name":"x","Check":{"TTL":"1s","Status":"ok"}})", "Status \"ok\"");
  refused(R"({"Name":"x","Check":{"TTL":"1s","Intervall":"1s"}})", "unknown member(s): Intervall");
  refused(R"({"Name":"x","Check":{"TTL":"1s","CheckID":"a/b"}})", "CheckID");
  refused(R"({"Name":"x","Checks":[{"TTL":"1s","ID":"c"},{"TTL":"2s","ID":"c"}]})", "two checks");
  refused(R"({"Name":"x","Checks":[1]})", "JSON object");
  refused(R"({"Name":"x","Kind":"connect-proxy"})", "Kind");
  refused(R"(["x"])", "JSON object");
  auto r = decode_registration("{", kMax);
  EXPECT_FALSE(r.is_ok());
  r = decode_registration(std::string(200, ' '), 100);
  EXPECT_EQ(r.status().code(), base::Code::kResourceExhausted);
}

TEST(CatalogService, AgentServiceShape) {
  Service s = ok(R"({"ID":"web-1","Name":"web","Port":80})");
  http::Json doc = http::Json::object();
  fill_agent_service(doc, doc.get(), s, "dc1");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(doc.dump().value(),
            R"({"ID":"web-1","Service":"web","Tags":[],"Meta":{},"Port":80,"Address":"",)"
            R"("Weights":{"Passing":1,"Warning":1},"EnableTagOverride":false,"Datacenter":"dc1"})");
}

class LocalServicesTest : public ::testing::Test {
 protected:
  LocalServicesTest() : loop_(env_.clock(), env_.poller()) {}
  std::unique_ptr<LocalServices> make(const std::string& dir = "") {
    return std::make_unique<LocalServices>(loop_, fs_, env_.net(), dir.empty() ? dir_.path() : dir, "dc1", "n1", log_,
                                           [this] { ++fatal_; }, /*services_max=*/3);
  }
  // A loopback listener's port (the listener in *h, for the test to close).
  uint16_t listening_port(hal::Handle* h) {
    *h = env_.net().listen(hal::SockAddr::ipv4(127, 0, 0, 1, 0), hal::ListenOptions{}).value();
    return env_.net().local_addr(*h).value().port;
  }
  // A loopback port nothing listens on: bound, learnt, closed.
  uint16_t closed_port() {
    hal::Handle h;
    const uint16_t port = listening_port(&h);
    env_.net().close(h);
    return port;
  }
  // "127.0.0.1:<port>"
  static std::string local(uint16_t port) { return "127.0.0.1:" + std::to_string(port); }
  // A LocalServices holding service "up", whose TCP check (ID "up") reaches a listening port
  // (listener_), and "down", whose check (ID "down") reaches a closed one; `up_extra` and
  // `down_extra` are more members for each check (each starting with a comma).
  std::unique_ptr<LocalServices> tcp_pair(const std::string& up_extra, const std::string& down_extra) {
    auto l = make();
    EXPECT_TRUE(l->load().is_ok());
    const std::string up = local(listening_port(&listener_));
    const std::string down = local(closed_port());
    for (const auto& [id, addr, extra] : {std::tuple{"up", up, up_extra}, std::tuple{"down", down, down_extra}}) {
      EXPECT_TRUE(l->put(ok(std::string(R"({"ID":")") + id + R"(","Name":"db","Check":{"CheckID":")" + id + R"(","TCP":")" +
                            addr + R"(","Interval":"1s")" + extra + "}}"))
                      .is_ok())
          << id;
    }
    return l;
  }
  ~LocalServicesTest() override {
    if (listener_ != hal::kInvalidHandle) env_.net().close(listener_);
  }
  hal::Handle listener_ = hal::kInvalidHandle;

  hal::posix::PosixEnv env_;
  runtime::Loop loop_;
  hal::posix::PosixFs fs_;
  posix_test::TempDir dir_;
  base::Logger log_;
  int fatal_ = 0;
};

TEST_F(LocalServicesTest, KeepsRegistrationsAcrossAReload) {
  {
    auto lp = make();
    LocalServices& l = *lp;
    ASSERT_TRUE(l.load().is_ok());
    EXPECT_TRUE(l.services().empty());
    ASSERT_TRUE(l.put(ok(R"({"ID":"a","Name":"web","Tags":["v1"],"Address":"10.0.0.1","Port":1,"Meta":{"k":"v"}})")).is_ok());
    ASSERT_TRUE(l.put(ok(R"({"ID":"b","Name":"web"})")).is_ok());
    ASSERT_TRUE(l.put(ok(R"({"ID":"c","Name":"db"})")).is_ok());
    const uint64_t v = l.version();
    ASSERT_TRUE(l.put(ok(R"({"ID":"c","Name":"db"})")).is_ok());  // unchanged: no new version
    EXPECT_EQ(l.version(), v);
    // At the cap: a new ID is refused, replacing one is not.
    EXPECT_EQ(l.put(ok(R"({"ID":"d","Name":"db"})")).code(), base::Code::kResourceExhausted);
    ASSERT_TRUE(l.put(ok(R"({"ID":"c","Name":"db","Port":5})")).is_ok());
    EXPECT_GT(l.version(), v);
    ASSERT_TRUE(l.remove("b").is_ok());
    EXPECT_EQ(l.remove("b").code(), base::Code::kNotFound);
  }
  auto again_p = make();
  LocalServices& again = *again_p;
  ASSERT_TRUE(again.load().is_ok());
  ASSERT_EQ(again.services().size(), 2u);
  EXPECT_EQ(again.services().at("a"), ok(R"({"ID":"a","Name":"web","Tags":["v1"],"Address":"10.0.0.1","Port":1,"Meta":{"k":"v"}})"));
  EXPECT_EQ(again.services().at("c").port, 5);
  EXPECT_EQ(fatal_, 0);
}

// Services from the config files are registered like any other but never written to the file;
// an API registration of the same ID takes one over (and is written).
TEST_F(LocalServicesTest, ConfigServicesAreNotWritten) {
  {
    auto lp = make();
    LocalServices& l = *lp;
    ASSERT_TRUE(l.load().is_ok());
    ASSERT_TRUE(l.put_from_config(ok(R"({"ID":"f","Name":"web"})")).is_ok());
    EXPECT_TRUE(l.from_config("f"));
    ASSERT_TRUE(l.put(ok(R"({"ID":"a","Name":"db"})")).is_ok());
    ASSERT_TRUE(l.put_from_config(ok(R"({"ID":"g","Name":"web"})")).is_ok());
    EXPECT_EQ(l.services().size(), 3u);
    ASSERT_TRUE(l.put(ok(R"({"ID":"g","Name":"web","Port":7})")).is_ok());
    EXPECT_FALSE(l.from_config("g"));
    ASSERT_TRUE(l.put(ok(R"({"ID":"a","Name":"db","Check":{"CheckID":"k","TTL":"10s"}})")).is_ok());
    // A config service's check ID another service holds is refused, as through the API.
    EXPECT_EQ(l.put_from_config(ok(R"({"ID":"g","Name":"x","Check":{"CheckID":"k","TTL":"10s"}})")).code(),
              base::Code::kAlreadyExists);
  }
  auto again_p = make();
  LocalServices& again = *again_p;
  ASSERT_TRUE(again.load().is_ok());
  std::vector<std::string> ids;
  for (const auto& [id, svc] : again.services()) ids.push_back(id);
  EXPECT_EQ(ids, (std::vector<std::string>{"a", "g"}));
  EXPECT_EQ(again.services().at("g").port, 7);
  EXPECT_EQ(fatal_, 0);
}

// The node's own check: made on first use, its status (not its output alone) moves the version,
// and a service check may not take its ID.
TEST_F(LocalServicesTest, NodeChecks) {
  auto lp = make();
  LocalServices& l = *lp;
  ASSERT_TRUE(l.load().is_ok());
  const uint64_t v0 = l.version();
  l.set_node_check("agentHealth", "Agent health", CheckStatus::kPassing, "fine");
  const uint64_t v1 = l.version();
  EXPECT_GT(v1, v0);
  l.set_node_check("agentHealth", "Agent health", CheckStatus::kPassing, "still fine");
  EXPECT_EQ(l.version(), v1);
  EXPECT_EQ(l.node_checks().at("agentHealth").output, "still fine");
  l.set_node_check("agentHealth", "Agent health", CheckStatus::kWarning, std::string(10000, 'x'));
  EXPECT_GT(l.version(), v1);
  EXPECT_EQ(l.node_checks().at("agentHealth").output.size(), kCheckOutputBytesMax);
  EXPECT_EQ(l.put(ok(R"({"ID":"a","Name":"web","Check":{"CheckID":"agentHealth","TTL":"10s"}})")).code(), base::Code::kAlreadyExists);
  EXPECT_TRUE(l.checks().empty());
}

// TTL checks' states survive a restart (check-states.json); a state kept for a check nobody
// registers again by forget_restored() is dropped; a corrupt states file is ignored.
TEST_F(LocalServicesTest, TtlStatesSurviveARestart) {
  {
    auto lp = make();
    ASSERT_TRUE(lp->load().is_ok());
    ASSERT_TRUE(lp->put(ok(R"({"ID":"a","Name":"web","Check":{"CheckID":"ta","TTL":"1h"}})")).is_ok());
    ASSERT_TRUE(lp->put_from_config(ok(R"({"ID":"b","Name":"web","Check":{"CheckID":"tb","TTL":"1h"}})")).is_ok());
    ASSERT_TRUE(lp->set_check("ta", CheckStatus::kPassing, "all good").is_ok());
    ASSERT_TRUE(lp->set_check("tb", CheckStatus::kWarning, "slow").is_ok());
  }
  {
    auto again = make();
    ASSERT_TRUE(again->load().is_ok());
    EXPECT_EQ(again->checks().at("ta").status, CheckStatus::kPassing);
    EXPECT_EQ(again->checks().at("ta").output, "all good");
    // b comes from the config files, registered after load(): its state is waiting for it.
    ASSERT_TRUE(again->put_from_config(ok(R"({"ID":"b","Name":"web","Check":{"CheckID":"tb","TTL":"1h"}})")).is_ok());
    EXPECT_EQ(again->checks().at("tb").status, CheckStatus::kWarning);
    again->forget_restored();
  }
  {
    // Without b registered before forget_restored(), its state is gone for a later registration.
    auto third = make();
    ASSERT_TRUE(third->load().is_ok());
    third->forget_restored();
    ASSERT_TRUE(third->put(ok(R"({"ID":"b","Name":"web","Check":{"CheckID":"tb","TTL":"1h"}})")).is_ok());
    EXPECT_EQ(third->checks().at("tb").status, CheckStatus::kCritical);
  }
  ASSERT_TRUE(fs_.write_file(dir_.path() + "/check-states.json", base::as_bytes(std::string_view("{not json")), 0600, false).is_ok());
  auto fourth = make();
  ASSERT_TRUE(fourth->load().is_ok());
  EXPECT_EQ(fourth->checks().at("ta").status, CheckStatus::kCritical);
  EXPECT_EQ(fatal_, 0);
}

TEST_F(LocalServicesTest, ACorruptFileIsAnErrorNamingIt) {
  for (const char* text : {"{", "{}", R"([{"Name":"a.b"}])", R"([{"Name":"a"},{"Name":"b"},{"Name":"c"},{"Name":"d"}])"}) {
    ASSERT_TRUE(fs_.write_file(dir_.join("services.json"), base::as_bytes(std::string_view(text)), 0600, false).is_ok());
    base::Status st = make()->load();
    EXPECT_EQ(st.code(), base::Code::kInvalidArgument) << text;
    EXPECT_NE(st.message().find("services.json"), std::string::npos) << st.message();
  }
}

TEST_F(LocalServicesTest, AFailedWriteIsFatalAndChangesNothing) {
  auto l = make(dir_.join("no/such/dir"));
  EXPECT_EQ(l->put(ok(R"({"Name":"web"})")).code(), base::Code::kIo);
  EXPECT_EQ(fatal_, 1);
  EXPECT_TRUE(l->services().empty());
}

// TTL checks: the initial status, pass/warn/fail through set_check, expiry to critical after the
// TTL with nothing set, the instance's health the worst of its checks, a check ID unique on the
// node, and re-registration keeping a kept check's status.
TEST_F(LocalServicesTest, TtlChecks) {
  auto l = make();
  ASSERT_TRUE(l->load().is_ok());
  ASSERT_TRUE(l->put(ok(R"({"ID":"w1","Name":"web","Checks":[{"CheckID":"a","TTL":"200ms"},{"CheckID":"b","TTL":"1h","Status":"passing"}]})")).is_ok());
  EXPECT_EQ(l->checks().at("a").status, CheckStatus::kCritical);
  EXPECT_EQ(l->checks().at("b").status, CheckStatus::kPassing);
  EXPECT_EQ(l->service_health("w1"), CheckStatus::kCritical);
  ASSERT_TRUE(l->set_check("a", CheckStatus::kWarning, "slow").is_ok());
  EXPECT_EQ(l->service_health("w1"), CheckStatus::kWarning);
  ASSERT_TRUE(l->set_check("a", CheckStatus::kPassing, std::string(5000, 'o')).is_ok());
  EXPECT_EQ(l->checks().at("a").output.size(), kCheckOutputBytesMax);
  EXPECT_EQ(l->service_health("w1"), CheckStatus::kPassing);
  EXPECT_EQ(l->set_check("zz", CheckStatus::kPassing, "").code(), base::Code::kNotFound);
  // Another service cannot take check "a".
  EXPECT_EQ(l->put(ok(R"({"ID":"w2","Name":"web","Check":{"CheckID":"a","TTL":"1s"}})")).code(), base::Code::kAlreadyExists);
  // Re-registering w1 with "a" unchanged keeps its status; "b" dropped, "c" new (critical).
  const uint64_t v = l->version();
  ASSERT_TRUE(l->put(ok(R"({"ID":"w1","Name":"web","Checks":[{"CheckID":"a","TTL":"200ms"},{"CheckID":"c","TTL":"1h"}]})")).is_ok());
  EXPECT_GT(l->version(), v);
  EXPECT_EQ(l->checks().at("a").status, CheckStatus::kPassing);
  EXPECT_EQ(l->checks().count("b"), 0u);
  EXPECT_EQ(l->checks().at("c").status, CheckStatus::kCritical);
  ASSERT_TRUE(l->set_check("c", CheckStatus::kPassing, "").is_ok());
  // Nothing sets "a" again: after its 200 ms TTL it is critical, and so is the instance.
  const uint64_t before = l->version();
  const base::MonoTime deadline = loop_.refresh_now() + base::Duration::seconds(5);
  while (l->checks().at("a").status != CheckStatus::kCritical && loop_.refresh_now() < deadline) {
    ASSERT_TRUE(loop_.run_once(base::Duration::millis(20)).is_ok());
  }
  EXPECT_EQ(l->checks().at("a").status, CheckStatus::kCritical);
  EXPECT_EQ(l->checks().at("a").output, "TTL expired");
  EXPECT_GT(l->version(), before);
  EXPECT_EQ(l->service_health("w1"), CheckStatus::kCritical);
  // Deregistering removes its checks.
  ASSERT_TRUE(l->remove("w1").is_ok());
  EXPECT_TRUE(l->checks().empty());
}

// TCP checks against real loopback sockets: a listener makes it passing at once, a closed port
// critical with the reason; a TCP check refuses TTL updates.
TEST_F(LocalServicesTest, TcpChecks) {
  auto l = tcp_pair(R"(,"Timeout":"2s")", "");
  EXPECT_EQ(l->checks().at("up").status, CheckStatus::kCritical);  // before the first attempt
  const base::MonoTime deadline = loop_.refresh_now() + base::Duration::seconds(5);
  while ((l->checks().at("up").status != CheckStatus::kPassing || l->checks().at("down").output.empty()) &&
         loop_.refresh_now() < deadline) {
    ASSERT_TRUE(loop_.run_once(base::Duration::millis(20)).is_ok());
  }
  EXPECT_EQ(l->checks().at("up").status, CheckStatus::kPassing);
  EXPECT_NE(l->checks().at("up").output.find("Success"), std::string::npos) << l->checks().at("up").output;
  EXPECT_EQ(l->checks().at("down").status, CheckStatus::kCritical);
  EXPECT_NE(l->checks().at("down").output.find("TCP connect 127.0.0.1:"), std::string::npos) << l->checks().at("down").output;
  EXPECT_EQ(l->service_health("up"), CheckStatus::kPassing);
  EXPECT_EQ(l->service_health("down"), CheckStatus::kCritical);
  EXPECT_EQ(l->set_check("up", CheckStatus::kCritical, "").code(), base::Code::kFailedPrecondition);
  // The listener goes: the next attempt (within the 1 s interval) turns it critical.
  env_.net().close(listener_);
  listener_ = hal::kInvalidHandle;
  while (l->checks().at("up").status != CheckStatus::kCritical && loop_.refresh_now() < deadline + base::Duration::seconds(3)) {
    ASSERT_TRUE(loop_.run_once(base::Duration::millis(20)).is_ok());
  }
  EXPECT_EQ(l->checks().at("up").status, CheckStatus::kCritical);
  ASSERT_TRUE(l->remove("up").is_ok());
  ASSERT_TRUE(l->remove("down").is_ok());
  EXPECT_TRUE(l->checks().empty());
}

// Exec checks run real programs (/bin/sh): exit 0 passing, 1 warning, 2 critical, the output kept
// and bounded, a program still running at its Timeout killed (critical, "Timed out"), a missing
// program critical; refused unless the operator enabled them.
TEST_F(LocalServicesTest, ExecChecks) {
  auto lp = make();
  LocalServices& l = *lp;
  ASSERT_TRUE(l.load().is_ok());
  const std::string body = R"({"ID":"x","Name":"x","Checks":[
      {"CheckID":"pass","Args":["/bin/sh","-c","echo fine"],"Interval":"10s"},
      {"CheckID":"warn","ScriptArgs":["/bin/sh","-c","echo slow; exit 1"],"Interval":"10s"},
      {"CheckID":"crit","Args":["/bin/sh","-c","exit 2"],"Interval":"10s"},
      {"CheckID":"hang","Args":["/bin/sh","-c","echo started; sleep 30"],"Interval":"10s","Timeout":"300ms"},
      {"CheckID":"gone","Args":["/nonexistent/check"],"Interval":"10s"},
      {"CheckID":"loud","Args":["/bin/sh","-c","head -c 100000 /dev/zero | tr '\\0' x"],"Interval":"10s"}]})";
  EXPECT_EQ(l.put(ok(body)).code(), base::Code::kPermissionDenied);
  EXPECT_TRUE(l.checks().empty());
  l.enable_exec_checks(env_.env().processes);
  ASSERT_TRUE(l.put(ok(body)).is_ok());
  auto ran = [&](const char* id) { return !l.checks().at(id).output.empty(); };
  const base::MonoTime deadline = loop_.refresh_now() + base::Duration::seconds(10);
  while (!(ran("pass") && ran("warn") && ran("crit") && ran("hang") && ran("gone") && ran("loud")) && loop_.refresh_now() < deadline) {
    ASSERT_TRUE(loop_.run_once(base::Duration::millis(20)).is_ok());
  }
  const auto& c = l.checks();
  EXPECT_EQ(c.at("pass").status, CheckStatus::kPassing);
  EXPECT_EQ(c.at("pass").output, "fine\n");
  EXPECT_EQ(c.at("warn").status, CheckStatus::kWarning);
  EXPECT_EQ(c.at("warn").output, "slow\n");
  EXPECT_EQ(c.at("crit").status, CheckStatus::kCritical);
  EXPECT_EQ(c.at("crit").output, "exit 2");
  EXPECT_EQ(c.at("hang").status, CheckStatus::kCritical);
  EXPECT_NE(c.at("hang").output.find("Timed out (300ms)"), std::string::npos) << c.at("hang").output;
  EXPECT_NE(c.at("hang").output.find("started"), std::string::npos) << c.at("hang").output;
  EXPECT_EQ(c.at("gone").status, CheckStatus::kCritical);
  EXPECT_NE(c.at("gone").output.find("/nonexistent/check"), std::string::npos) << c.at("gone").output;
  EXPECT_EQ(c.at("loud").status, CheckStatus::kPassing);
  EXPECT_EQ(c.at("loud").output, std::string(kCheckOutputBytesMax, 'x'));
  EXPECT_EQ(l.service_health("x"), CheckStatus::kCritical);
  {
    // services.json keeps the Args: the same service read back.
    auto again = make();
    again->enable_exec_checks(env_.env().processes);
    ASSERT_TRUE(again->load().is_ok());
    EXPECT_EQ(again->services().at("x"), l.services().at("x"));
  }
  ASSERT_TRUE(l.remove("x").is_ok());
}

// Consul's thresholds: with SuccessBeforePassing 2 a reachable port turns passing only on the
// second success; with FailuresBeforeCritical 2 a closed port stays passing after one failure.
TEST_F(LocalServicesTest, CheckThresholds) {
  auto l = tcp_pair(R"(,"SuccessBeforePassing":2)", R"(,"Status":"passing","FailuresBeforeCritical":2)");
  // The first attempts run at once: neither status moves yet.
  const base::MonoTime first = loop_.refresh_now() + base::Duration::seconds(5);
  while ((l->checks().at("up").successes == 0 || l->checks().at("down").failures == 0) && loop_.refresh_now() < first) {
    ASSERT_TRUE(loop_.run_once(base::Duration::millis(10)).is_ok());
  }
  EXPECT_EQ(l->checks().at("up").status, CheckStatus::kCritical);
  EXPECT_EQ(l->checks().at("up").successes, 1);
  EXPECT_EQ(l->checks().at("down").status, CheckStatus::kPassing);
  EXPECT_EQ(l->checks().at("down").failures, 1);
  EXPECT_TRUE(l->checks().at("down").output.empty());
  // The second ones (after the 1 s interval) do.
  const base::MonoTime deadline = loop_.refresh_now() + base::Duration::seconds(5);
  while ((l->checks().at("up").status != CheckStatus::kPassing || l->checks().at("down").status != CheckStatus::kCritical) &&
         loop_.refresh_now() < deadline) {
    ASSERT_TRUE(loop_.run_once(base::Duration::millis(20)).is_ok());
  }
  EXPECT_EQ(l->checks().at("up").status, CheckStatus::kPassing);
  EXPECT_EQ(l->checks().at("down").status, CheckStatus::kCritical);
  EXPECT_NE(l->checks().at("down").output.find("TCP connect"), std::string::npos);
}

// HTTP checks against a real HTTP server on loopback: 200 passing with the body in the output,
// 429 warning, 500 critical, a redirect critical (not followed), a body over the limit critical,
// the check's method, header and body sent.
TEST_F(LocalServicesTest, HttpChecks) {
  http::Router router;
  std::string seen_method, seen_header, seen_body, seen_agent;
  router.add("GET", "/ok", [](http::Request&, http::Responder r) { r.send(http::Response::text(200, "all good")); });
  router.add("GET", "/busy", [](http::Request&, http::Responder r) { r.send(http::Response::text(429, "later")); });
  router.add("GET", "/bad", [](http::Request&, http::Responder r) { r.send(http::Response::text(500, "broken")); });
  router.add("GET", "/moved", [](http::Request&, http::Responder r) {
    http::Response resp = http::Response::text(302, "");
    resp.headers.push_back(http::Header{"Location", "/ok"});
    r.send(std::move(resp));
  });
  router.add("GET", "/huge", [](http::Request&, http::Responder r) { r.send(http::Response::text(200, std::string(kCheckResponseBytesMax + 1, 'x'))); });
  router.add("POST", "/post", [&](http::Request& q, http::Responder r) {
    seen_method = q.method;
    const std::string* h = q.header("X-Probe");
    seen_header = h != nullptr ? *h : "";
    const std::string* ua = q.header("User-Agent");
    seen_agent = ua != nullptr ? *ua : "";
    seen_body = q.body;
    r.send(http::Response::text(204, ""));
  });
  http::Server server(loop_, env_.net(), env_.clock(), router.handler());
  ASSERT_TRUE(server.listen(hal::SockAddr::ipv4(127, 0, 0, 1, 0)).is_ok());
  const std::string base = "http://127.0.0.1:" + std::to_string(server.listen_addr(0).value().port);
  auto l = make();
  ASSERT_TRUE(l->load().is_ok());
  auto reg = [&](const std::string& id, const std::string& check) {
    ASSERT_TRUE(l->put(ok(R"({"ID":")" + id + R"(","Name":"web","Check":{"CheckID":")" + id + R"(",)" + check +
                          R"(,"Interval":"1s","Timeout":"2s"}})")).is_ok()) << id;
  };
  reg("ok", R"("HTTP":")" + base + R"(/ok")");
  reg("busy", R"("HTTP":")" + base + R"(/busy")");
  reg("bad", R"("HTTP":")" + base + R"(/bad")");
  // (a fourth service would pass services_max = 3: a second LocalServices for the rest)
  auto l2 = make(dir_.join("second"));
  ASSERT_TRUE(fs_.make_dirs(dir_.join("second"), 0700).is_ok());
  ASSERT_TRUE(l2->put(ok(R"({"ID":"moved","Name":"web","Check":{"CheckID":"moved","HTTP":")" + base +
                         R"(/moved","Interval":"1s"}})")).is_ok());
  ASSERT_TRUE(l2->put(ok(R"({"ID":"huge","Name":"web","Check":{"CheckID":"huge","HTTP":")" + base +
                         R"(/huge","Interval":"1s"}})")).is_ok());
  ASSERT_TRUE(l2->put(ok(R"({"ID":"post","Name":"web","Check":{"CheckID":"post","HTTP":")" + base +
                         R"(/post","Method":"POST","Header":{"X-Probe":["yes"]},"Body":"ping","Interval":"1s"}})")).is_ok());
  auto all_ran = [&] {
    for (const auto* m : {&l->checks(), &l2->checks()}) {
      for (const auto& [id, c] : *m) {
        if (c.output.empty()) return false;
      }
    }
    return true;
  };
  const base::MonoTime deadline = loop_.refresh_now() + base::Duration::seconds(5);
  while (!all_ran() && loop_.refresh_now() < deadline) ASSERT_TRUE(loop_.run_once(base::Duration::millis(20)).is_ok());
  ASSERT_TRUE(all_ran());
  EXPECT_EQ(l->checks().at("ok").status, CheckStatus::kPassing);
  EXPECT_EQ(l->checks().at("ok").output, "HTTP GET " + base + "/ok: 200 Output: all good");
  EXPECT_EQ(l->checks().at("busy").status, CheckStatus::kWarning);
  EXPECT_EQ(l->checks().at("bad").status, CheckStatus::kCritical);
  EXPECT_NE(l->checks().at("bad").output.find(": 500 Output: "), std::string::npos) << l->checks().at("bad").output;
  EXPECT_EQ(l2->checks().at("moved").status, CheckStatus::kCritical);
  EXPECT_NE(l2->checks().at("moved").output.find(": 302 "), std::string::npos) << l2->checks().at("moved").output;
  EXPECT_EQ(l2->checks().at("huge").status, CheckStatus::kCritical);
  EXPECT_EQ(l2->checks().at("post").status, CheckStatus::kPassing) << l2->checks().at("post").output;
  EXPECT_EQ(seen_method, "POST");
  EXPECT_EQ(seen_header, "yes");
  EXPECT_EQ(seen_body, "ping");
  EXPECT_EQ(seen_agent, "Weft Health Check");
}

}  // namespace
}  // namespace catalog
