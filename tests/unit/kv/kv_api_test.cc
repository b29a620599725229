// Proves KvApi answers as Consul's /v1/kv does: every parameter, status code, header and body
// shape, blocking queries (woken by a write, not by an unrelated one, ended by ?wait, dropped when
// the client goes), the bounds, and bad input. Requests go over real loopback HTTP to an
// http::Server routed through KvApi::add_routes, against TestBackend (a real state::Store in a
// temp dir that applies each write at once). Every wait pumps the loop until a condition or a
// deadline; nothing sleeps.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "agent/base/log.h"
#include "agent/http/client.h"
#include "agent/http/json.h"
#include "agent/http/router.h"
#include "agent/http/server.h"
#include "agent/kv/kv_api.h"
#include "hal/posix/posix_env.h"
#include "tests/unit/kv/test_backend.h"

namespace {

using base::Duration;
using http::ClientResponse;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "weft-kv-XXXXXX").string();
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

std::string hdr(const ClientResponse& r, std::string_view name) {
  const std::string* v = r.header(name);
  return v ? *v : "<none>";
}

class KvApiTest : public ::testing::Test {
 protected:
  KvApiTest() : loop_(env_.clock(), env_.poller()) {
    auto s = state::Store::open(dir_.file("state.db"));
    EXPECT_TRUE(s.is_ok()) << s.status().to_string();
    store_ = std::move(s).value();
    backend_ = std::make_unique<kvtest::TestBackend>(loop_, *store_);
  }
  ~KvApiTest() override {
    server_.reset();
    api_.reset();
  }

  void start(kv::KvOptions options = {}) {
    api_ = std::make_unique<kv::KvApi>(loop_, *backend_, logger_, options);
    api_->add_routes(router_);
    server_ = std::make_unique<http::Server>(loop_, env_.net(), env_.clock(), router_.handler());
    ASSERT_TRUE(server_->listen(hal::SockAddr::ipv4(127, 0, 0, 1, 0)).is_ok());
    auto a = server_->listen_addr(0);
    ASSERT_TRUE(a.is_ok());
    addr_ = *a;
  }
  void SetUp() override { start(); }

  ClientResponse call(const std::string& method, const std::string& target, std::string body = "",
                      Duration timeout = Duration::seconds(5)) {
    http::ClientRequest req;
    req.method = method;
    req.target = target;
    req.body = std::move(body);
    auto r = http::http_call(loop_, env_.net(), addr_, req, timeout);
    EXPECT_TRUE(r.is_ok()) << method << " " << target << ": " << r.status().to_string();
    return r.is_ok() ? std::move(r).value() : ClientResponse{};
  }
  ClientResponse get(const std::string& target) { return call("GET", target); }

  bool pump_until(const std::function<bool()>& pred, Duration timeout = Duration::seconds(5)) {
    base::MonoTime deadline = loop_.refresh_now() + timeout;
    while (!pred()) {
      if (loop_.refresh_now() >= deadline) return pred();
      EXPECT_TRUE(loop_.run_once(Duration::millis(5)).is_ok());
    }
    return true;
  }

  // A JSON array body parsed, or a failed Json.
  static http::Json parse(const ClientResponse& r) {
    auto j = http::Json::parse(r.body, 16 << 20);
    EXPECT_TRUE(j.is_ok()) << r.body;
    return j.is_ok() ? std::move(j).value() : http::Json();
  }
  static std::string str(const cJSON* o, const char* k) {
    const cJSON* v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : cJSON_IsNull(v) ? "<null>" : "<absent>";
  }
  // Numbers come as raw decimal text (http::Json::add_u64), exact to 64 bits.
  static std::string num(const cJSON* o, const char* k) {
    const cJSON* v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (cJSON_IsNumber(v)) return std::to_string(static_cast<uint64_t>(v->valuedouble));
    return v ? json_dump_item(v) : "<absent>";
  }
  static std::string json_dump_item(const cJSON* v) { return http::json_dump(v); }

  TempDir dir_;
  hal::posix::PosixEnv env_;
  runtime::Loop loop_;
  base::Logger logger_;
  std::unique_ptr<state::Store> store_;
  std::unique_ptr<kvtest::TestBackend> backend_;
  http::Router router_;
  std::unique_ptr<kv::KvApi> api_;
  std::unique_ptr<http::Server> server_;
  hal::SockAddr addr_;
};

// A PUT answers true and the GET returns Consul's DirEntry array with the value in base64 and
// every read header.
TEST_F(KvApiTest, PutThenGetReturnsConsulShape) {
  ClientResponse p = call("PUT", "/v1/kv/web/config", "hello");
  EXPECT_EQ(p.status, 200);
  EXPECT_EQ(p.body, "true");
  EXPECT_EQ(hdr(p, "content-type"), "application/json");
  ClientResponse g = get("/v1/kv/web/config");
  ASSERT_EQ(g.status, 200) << g.body;
  EXPECT_EQ(g.body, R"([{"LockIndex":0,"Key":"web/config","Flags":0,"Value":"aGVsbG8=","CreateIndex":1,"ModifyIndex":1}])");
  EXPECT_EQ(hdr(g, "x-consul-index"), "1");
  EXPECT_EQ(hdr(g, "x-consul-knownleader"), "true");
  EXPECT_EQ(hdr(g, "x-consul-lastcontact"), "0");
  EXPECT_EQ(hdr(g, "x-consul-effective-consistency"), "leader");
  EXPECT_EQ(hdr(g, "content-type"), "application/json");
  // A second set keeps CreateIndex and moves ModifyIndex.
  EXPECT_EQ(call("PUT", "/v1/kv/web/config", "again").body, "true");
  http::Json doc = parse(get("/v1/kv/web/config"));
  const cJSON* e = cJSON_GetArrayItem(doc.get(), 0);
  EXPECT_EQ(num(e, "CreateIndex"), "1");
  EXPECT_EQ(num(e, "ModifyIndex"), "2");
  EXPECT_EQ(str(e, "Value"), "YWdhaW4=");
  EXPECT_EQ(str(e, "Session"), "<absent>");
}

// Consul returns "Value": null for an empty value.
TEST_F(KvApiTest, EmptyValueIsNull) {
  EXPECT_EQ(call("PUT", "/v1/kv/empty", "").body, "true");
  ClientResponse g = get("/v1/kv/empty");
  ASSERT_EQ(g.status, 200);
  EXPECT_NE(g.body.find("\"Value\":null"), std::string::npos) << g.body;
  ClientResponse raw = get("/v1/kv/empty?raw");
  EXPECT_EQ(raw.status, 200);
  EXPECT_EQ(raw.body, "");
}

// A missing key is a 404 with an empty body and X-Consul-Index, which is never 0.
TEST_F(KvApiTest, MissingKeyIs404WithIndex) {
  ClientResponse g = get("/v1/kv/nothing");
  EXPECT_EQ(g.status, 404);
  EXPECT_EQ(g.body, "");
  EXPECT_EQ(hdr(g, "x-consul-index"), "1");  // empty store: index 0 becomes 1
  EXPECT_EQ(hdr(g, "x-consul-knownleader"), "true");
  backend_->set("a", "1");
  backend_->set("b", "2");
  g = get("/v1/kv/nothing");
  EXPECT_EQ(g.status, 404);
  EXPECT_EQ(hdr(g, "x-consul-index"), "2");  // the table's index (last applied)
  // A deleted key's index is its tombstone's.
  EXPECT_EQ(call("DELETE", "/v1/kv/a").body, "true");
  backend_->set("c", "3");
  g = get("/v1/kv/a");
  EXPECT_EQ(g.status, 404);
  EXPECT_EQ(hdr(g, "x-consul-index"), "3");
}

// ?raw answers the stored bytes exactly, binary included, with Consul's no-sniff headers.
TEST_F(KvApiTest, RawReturnsBytes) {
  std::string value("bin\0\xff\x01 \r\n", 9);
  EXPECT_EQ(call("PUT", "/v1/kv/blob", value).body, "true");
  ClientResponse g = get("/v1/kv/blob?raw");
  EXPECT_EQ(g.status, 200);
  EXPECT_EQ(g.body, value);
  EXPECT_EQ(hdr(g, "x-content-type-options"), "nosniff");
  EXPECT_EQ(hdr(g, "content-security-policy"), "sandbox");
  EXPECT_EQ(hdr(g, "x-consul-index"), "1");
  EXPECT_EQ(get("/v1/kv/absent?raw").status, 404);
  // ?raw has no effect on ?recurse (Consul only honours it for a single key).
  ClientResponse list = get("/v1/kv/bl?recurse&raw");
  EXPECT_EQ(list.status, 200);
  EXPECT_EQ(list.body.front(), '[');
}

// ?flags stores a uint64 exactly (to 2^64 - 1); bad numbers are 400.
TEST_F(KvApiTest, Flags) {
  EXPECT_EQ(call("PUT", "/v1/kv/f?flags=42", "x").body, "true");
  EXPECT_NE(get("/v1/kv/f").body.find("\"Flags\":42"), std::string::npos);
  EXPECT_EQ(call("PUT", "/v1/kv/f?flags=18446744073709551615", "x").body, "true");
  EXPECT_NE(get("/v1/kv/f").body.find("\"Flags\":18446744073709551615"), std::string::npos);
  for (const char* bad : {"x", "-1", "", "18446744073709551616", "1.5", "0x10", "%2B1"}) {
    ClientResponse r = call("PUT", std::string("/v1/kv/f?flags=") + bad, "x");
    EXPECT_EQ(r.status, 400) << bad;
  }
  EXPECT_EQ(backend_->writes(), 2u);  // refused before anything was proposed
}

// ?cas: 0 creates only if absent; N applies only at modify index N; the body says which.
TEST_F(KvApiTest, PutCas) {
  EXPECT_EQ(call("PUT", "/v1/kv/lock?cas=0", "a").body, "true");
  EXPECT_EQ(call("PUT", "/v1/kv/lock?cas=0", "b").body, "false");
  EXPECT_EQ(call("PUT", "/v1/kv/lock?cas=7", "b").body, "false");
  EXPECT_EQ(call("PUT", "/v1/kv/lock?cas=1", "c").body, "true");
  EXPECT_EQ(get("/v1/kv/lock?raw").body, "c");
  EXPECT_EQ(call("PUT", "/v1/kv/lock?cas=abc", "d").status, 400);
  EXPECT_EQ(call("PUT", "/v1/kv/lock?cas=", "d").status, 400);
  // cas with acquire is Consul's "Conflicting flags"; sessions alone are not implemented.
  ClientResponse both = call("PUT", "/v1/kv/lock?cas=1&acquire=s", "d");
  EXPECT_EQ(both.status, 400);
  EXPECT_EQ(both.body.rfind("Conflicting flags: ", 0), 0u) << both.body;
  EXPECT_EQ(call("PUT", "/v1/kv/lock?acquire=s", "d").status, 501);
  EXPECT_EQ(call("PUT", "/v1/kv/lock?release=s", "d").status, 501);
}

// ?recurse lists every entry under the prefix in key order; the empty prefix lists all; an empty
// result is a 404 whose index is the prefix's.
TEST_F(KvApiTest, Recurse) {
  backend_->set("web/b", "2");
  backend_->set("web/a", "1");
  backend_->set("db/x", "3");
  backend_->set("web/sub/c", "4");
  http::Json doc = parse(get("/v1/kv/web/?recurse"));
  ASSERT_EQ(cJSON_GetArraySize(doc.get()), 3);
  EXPECT_EQ(str(cJSON_GetArrayItem(doc.get(), 0), "Key"), "web/a");
  EXPECT_EQ(str(cJSON_GetArrayItem(doc.get(), 1), "Key"), "web/b");
  EXPECT_EQ(str(cJSON_GetArrayItem(doc.get(), 2), "Key"), "web/sub/c");
  ClientResponse r = get("/v1/kv/web/?recurse");
  EXPECT_EQ(hdr(r, "x-consul-index"), "4");  // the largest modify index under web/
  ClientResponse all = get("/v1/kv/?recurse");
  EXPECT_EQ(cJSON_GetArraySize(parse(all).get()), 4);
  EXPECT_EQ(get("/v1/kv/nope/?recurse").status, 404);
  // recurse=false still recurses: Consul tests the parameter's presence.
  EXPECT_EQ(get("/v1/kv/web/?recurse=false").status, 200);
}

// ?keys lists names; ?separator cuts them after the separator; an empty root is [], an empty
// prefix elsewhere a 404; the old spelling "seperator" is read too.
TEST_F(KvApiTest, Keys) {
  ClientResponse root = get("/v1/kv/?keys");
  EXPECT_EQ(root.status, 200);
  EXPECT_EQ(root.body, "[]");
  EXPECT_EQ(hdr(root, "x-consul-index"), "1");
  backend_->set("web/a", "1");
  backend_->set("web/sub/b", "2");
  backend_->set("web/sub/c", "3");
  backend_->set("db/x", "4");
  EXPECT_EQ(get("/v1/kv/?keys").body, R"(["db/x","web/a","web/sub/b","web/sub/c"])");
  EXPECT_EQ(get("/v1/kv/web/?keys&separator=/").body, R"(["web/a","web/sub/"])");
  EXPECT_EQ(get("/v1/kv/?keys&separator=/").body, R"(["db/","web/"])");
  EXPECT_EQ(get("/v1/kv/web/?keys&seperator=/").body, R"(["web/a","web/sub/"])");
  ClientResponse none = get("/v1/kv/zzz?keys");
  EXPECT_EQ(none.status, 404);
  EXPECT_EQ(none.body, "");
  EXPECT_EQ(hdr(get("/v1/kv/web/sub/?keys"), "x-consul-index"), "3");
}

// DELETE: plain, ?recurse (a prefix, or everything at the root), ?cas; conflicting flags and a
// missing key are 400s.
TEST_F(KvApiTest, Delete) {
  backend_->set("a", "1");
  backend_->set("dir/x", "2");
  backend_->set("dir/y", "3");
  backend_->set("other", "4");
  EXPECT_EQ(call("DELETE", "/v1/kv/a").body, "true");
  EXPECT_EQ(get("/v1/kv/a").status, 404);
  EXPECT_EQ(call("DELETE", "/v1/kv/a").body, "true");  // absent: still true, as in Consul
  EXPECT_EQ(call("DELETE", "/v1/kv/dir/?recurse").body, "true");
  EXPECT_EQ(get("/v1/kv/dir/?recurse").status, 404);
  EXPECT_EQ(get("/v1/kv/other").status, 200);
  // cas: false at the wrong index (nothing deleted), true at the right one.
  EXPECT_EQ(call("DELETE", "/v1/kv/other?cas=1").body, "false");
  EXPECT_EQ(get("/v1/kv/other").status, 200);
  EXPECT_EQ(call("DELETE", "/v1/kv/other?cas=4").body, "true");
  EXPECT_EQ(get("/v1/kv/other").status, 404);
  ClientResponse conflict = call("DELETE", "/v1/kv/dir?recurse&cas=1");
  EXPECT_EQ(conflict.status, 400);
  EXPECT_EQ(conflict.body, "Conflicting flags: recurse&cas=1\n");
  ClientResponse missing = call("DELETE", "/v1/kv/");
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(missing.body, "Missing key name");
  EXPECT_EQ(call("DELETE", "/v1/kv/x?cas=no").status, 400);
  backend_->set("p/1", "x");
  backend_->set("q/1", "y");
  EXPECT_EQ(call("DELETE", "/v1/kv/?recurse").body, "true");
  EXPECT_EQ(get("/v1/kv/?keys").body, "[]");
}

// Keys that break Consul's rules and values over 512 KiB are refused before any proposal.
TEST_F(KvApiTest, BadInputIsRefused) {
  ClientResponse r = call("PUT", "/v1/kv/", "x");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "Missing key name");
  EXPECT_EQ(get("/v1/kv/").status, 400);
  EXPECT_EQ(call("PUT", "/v1/kv/" + std::string(513, 'k'), "x").status, 400);
  EXPECT_EQ(call("PUT", "/v1/kv/" + std::string(512, 'k'), "x").status, 200);
  EXPECT_EQ(get("/v1/kv/" + std::string(513, 'k')).status, 400);
  EXPECT_EQ(call("PUT", "/v1/kv/bad%FFutf8", "x").status, 400);
  EXPECT_EQ(call("PUT", "/v1/kv/%C0%AFoverlong", "x").status, 400);
  EXPECT_EQ(get("/v1/kv/bad%FF").status, 400);
  EXPECT_EQ(call("PUT", "/v1/kv//leading", "x").status, 400);
  EXPECT_EQ(call("DELETE", "/v1/kv/%ED%A0%80?recurse").status, 400);  // a surrogate
  // Exactly 512 KiB is fine; one byte more is Consul's 413.
  EXPECT_EQ(call("PUT", "/v1/kv/big", std::string(512 * 1024, 'v')).body, "true");
  ClientResponse big = call("PUT", "/v1/kv/big", std::string(512 * 1024 + 1, 'v'));
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(big.body.rfind("Request body(524289 bytes) too large, max size: 524288 bytes.", 0), 0u) << big.body;
  EXPECT_EQ(backend_->writes(), 2u);
  // Other methods: 405 with Allow.
  ClientResponse post = call("POST", "/v1/kv/x", "y");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(hdr(post, "allow"), "DELETE, GET, HEAD, PUT");
}

// HEAD is served by GET: same status and headers, no body.
TEST_F(KvApiTest, Head) {
  backend_->set("h", "value");
  ClientResponse r = call("HEAD", "/v1/kv/h");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(hdr(r, "x-consul-index"), "1");
}

// ?stale and ?consistent pick the backend's read mode; both together are Consul's 400; the
// backend's ReadMeta reaches the headers.
TEST_F(KvApiTest, ConsistencyModes) {
  backend_->set("k", "v");
  backend_->set_meta({.known_leader = false, .last_contact_ms = 1234});
  ClientResponse stale = get("/v1/kv/k?stale");
  EXPECT_EQ(hdr(stale, "x-consul-effective-consistency"), "stale");
  EXPECT_EQ(hdr(stale, "x-consul-knownleader"), "false");
  EXPECT_EQ(hdr(stale, "x-consul-lastcontact"), "1234");
  EXPECT_EQ(hdr(get("/v1/kv/k?consistent"), "x-consul-effective-consistency"), "consistent");
  get("/v1/kv/k");
  get("/v1/kv/?keys&stale");
  ASSERT_EQ(backend_->modes().size(), 4u);
  EXPECT_EQ(backend_->modes()[0], kv::Consistency::kStale);
  EXPECT_EQ(backend_->modes()[1], kv::Consistency::kConsistent);
  EXPECT_EQ(backend_->modes()[2], kv::Consistency::kDefault);
  EXPECT_EQ(backend_->modes()[3], kv::Consistency::kStale);
  ClientResponse both = get("/v1/kv/k?stale&consistent");
  EXPECT_EQ(both.status, 400);
  EXPECT_EQ(both.body, "Cannot specify ?stale with ?consistent, conflicting semantics.");
  EXPECT_EQ(backend_->modes().size(), 4u);
}

// Backend errors: no leader is a 500, too many in flight a 429, a timeout a 500.
TEST_F(KvApiTest, BackendErrors) {
  backend_->fail_reads(base::error(base::Code::kUnavailable, "No cluster leader"));
  ClientResponse r = get("/v1/kv/k");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, "No cluster leader");
  backend_->fail_writes(base::error(base::Code::kUnavailable, "No cluster leader"));
  EXPECT_EQ(call("PUT", "/v1/kv/k", "v").status, 500);
  backend_->fail_writes(base::error(base::Code::kResourceExhausted, "too many writes in flight"));
  EXPECT_EQ(call("PUT", "/v1/kv/k", "v").status, 429);
  backend_->fail_writes(base::error(base::Code::kTimeout, "commit timed out"));
  EXPECT_EQ(call("DELETE", "/v1/kv/k").status, 500);
  EXPECT_EQ(api_->queries(), 0u);
}

// A blocking query waits while the key's index has not passed ?index, ignores a write to another
// key, and answers with the new entry once its own key is written.
TEST_F(KvApiTest, BlockingQueryWokenByWriteToItsKey) {
  const uint64_t first = backend_->set("watched", "v1");
  uint64_t other_index = 0, own_index = 0;
  // Whether the answer came before the unrelated write fired, or before its own key's.
  bool answered_early = false;
  loop_.refresh_now();
  auto t1 = loop_.arm_after(Duration::millis(30), [&] { other_index = backend_->set("unrelated", "x"); });
  auto t2 = loop_.arm_after(Duration::millis(120), [&] { own_index = backend_->set("watched", "v2"); });
  ASSERT_TRUE(t1.is_ok() && t2.is_ok());
  const base::MonoTime start = loop_.refresh_now();
  ClientResponse r = get("/v1/kv/watched?index=" + std::to_string(first) + "&wait=30s");
  const Duration took = loop_.refresh_now() - start;
  answered_early = own_index == 0;
  ASSERT_EQ(r.status, 200);
  EXPECT_FALSE(answered_early);
  EXPECT_EQ(other_index, 2u);
  EXPECT_EQ(own_index, 3u);
  EXPECT_EQ(hdr(r, "x-consul-index"), "3");
  EXPECT_NE(r.body.find("\"Value\":\"djI=\""), std::string::npos) << r.body;
  EXPECT_LT(took, Duration::seconds(5));
  EXPECT_EQ(api_->queries(), 0u);
  EXPECT_EQ(api_->blocking_queries(), 0u);
  EXPECT_EQ(backend_->watches(), 0u);
}

// A blocking list is woken by a delete under its prefix (the tombstone moves the index).
TEST_F(KvApiTest, BlockingListWokenByDelete) {
  backend_->set("svc/a", "1");
  const uint64_t idx = backend_->set("svc/b", "2");
  auto t = loop_.arm_after(Duration::millis(30), [&] {
    wire::StateCommand c;
    c.type = wire::StateCommandType::kKvDelete;
    c.key = "svc/a";
    backend_->write(*wire::encode_state_command(c), [](base::Result<state::ApplyResult>) {});
  });
  ASSERT_TRUE(t.is_ok());
  ClientResponse r = get("/v1/kv/svc/?recurse&index=" + std::to_string(idx) + "&wait=30s");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(hdr(r, "x-consul-index"), "3");
  EXPECT_EQ(cJSON_GetArraySize(parse(r).get()), 1);
}

// With nothing written, the query answers when ?wait (plus at most wait/16) ends, with the same
// index; ?index=0 and an index already passed answer at once.
TEST_F(KvApiTest, BlockingQueryEndsAtWait) {
  const uint64_t idx = backend_->set("k", "v");
  base::MonoTime start = loop_.refresh_now();
  ClientResponse r = get("/v1/kv/k?index=" + std::to_string(idx) + "&wait=200ms");
  Duration took = loop_.refresh_now() - start;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(hdr(r, "x-consul-index"), "1");
  EXPECT_GE(took, Duration::millis(200));
  EXPECT_LT(took, Duration::millis(200 + 13 + 500));
  // A missing key blocks too, and its 404 carries the index.
  start = loop_.refresh_now();
  r = get("/v1/kv/absent?index=5&wait=100ms");
  EXPECT_EQ(r.status, 404);
  EXPECT_GE(loop_.refresh_now() - start, Duration::millis(100));
  start = loop_.refresh_now();
  EXPECT_EQ(get("/v1/kv/k?index=0&wait=10s").status, 200);
  EXPECT_EQ(get("/v1/kv/k?index=" + std::to_string(idx - 1) + "&wait=10s").status, 200);
  EXPECT_LT(loop_.refresh_now() - start, Duration::seconds(2));
  EXPECT_EQ(api_->queries(), 0u);
  EXPECT_EQ(backend_->watches(), 0u);
}

// ?wait is clamped to the maximum and defaults when absent or 0 (options shortened for the test).
TEST_F(KvApiTest, WaitDefaultAndMaximum) {
  server_.reset();
  api_.reset();
  router_ = http::Router();
  start({.blocking = {.wait_default = Duration::millis(100), .wait_max = Duration::millis(300)}});
  backend_->set("k", "v");
  for (const char* wait : {"", "&wait=0", "&wait=1h"}) {
    const base::MonoTime start = loop_.refresh_now();
    ClientResponse r = get(std::string("/v1/kv/k?index=1") + wait);
    const Duration took = loop_.refresh_now() - start;
    EXPECT_EQ(r.status, 200) << wait;
    const Duration expect = std::string(wait) == "&wait=1h" ? Duration::millis(300) : Duration::millis(100);
    EXPECT_GE(took, expect) << wait;
    EXPECT_LT(took, expect + expect / 16 + Duration::millis(500)) << wait;
  }
}

// Malformed ?index and ?wait are Consul's 400s.
TEST_F(KvApiTest, BadIndexAndWait) {
  for (const char* t : {"/v1/kv/k?index=x", "/v1/kv/k?index=-1", "/v1/kv/k?index=1.0",
                        "/v1/kv/k?index=99999999999999999999"}) {
    ClientResponse r = get(t);
    EXPECT_EQ(r.status, 400) << t;
    EXPECT_EQ(r.body, "Invalid index") << t;
  }
  for (const char* t : {"/v1/kv/k?index=1&wait=10", "/v1/kv/k?index=1&wait=abc", "/v1/kv/k?wait=1x"}) {
    ClientResponse r = get(t);
    EXPECT_EQ(r.status, 400) << t;
    EXPECT_EQ(r.body, "Invalid wait time") << t;
  }
  EXPECT_EQ(backend_->modes().size(), 0u);
}

// A raw socket client whose request the test can abandon.
class RawClient {
 public:
  RawClient(hal::Net& net, const hal::SockAddr& to, std::string_view request) : net_(net) {
    auto h = net_.connect(to);
    EXPECT_TRUE(h.is_ok());
    if (!h.is_ok()) return;
    h_ = *h;
    request_ = std::string(request);
  }
  ~RawClient() { close(); }
  // Writes what it can (the connect may still be in progress); true once all is written.
  bool flush() {
    while (h_ != hal::kInvalidHandle && !request_.empty()) {
      auto n = net_.write(h_, base::as_bytes(std::string_view(request_)));
      if (!n.is_ok()) return false;
      request_.erase(0, *n);
    }
    return request_.empty();
  }
  void close() {
    if (h_ != hal::kInvalidHandle) net_.close(h_);
    h_ = hal::kInvalidHandle;
  }

 private:
  hal::Net& net_;
  hal::Handle h_ = hal::kInvalidHandle;
  std::string request_;
};

// A client that closes its connection while its blocking query waits frees the query, its
// backend watch and its timer.
TEST_F(KvApiTest, BlockingQueryCancelledWhenClientCloses) {
  backend_->set("k", "v");
  const size_t timers_before = loop_.timers_pending();
  RawClient c(env_.net(), addr_, "GET /v1/kv/k?index=1&wait=60s HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(pump_until([&] { return c.flush() && api_->blocking_queries() == 1 && backend_->watches() == 1; }));
  EXPECT_EQ(api_->queries(), 1u);
  c.close();
  ASSERT_TRUE(pump_until([&] { return api_->queries() == 0; }));
  EXPECT_EQ(api_->blocking_queries(), 0u);
  EXPECT_EQ(backend_->watches(), 0u);
  // The server's own per-connection timer goes with the connection too.
  ASSERT_TRUE(pump_until([&] { return loop_.timers_pending() <= timers_before; }));
  // A later write finds nothing to wake.
  backend_->set("k", "v2");
  ASSERT_TRUE(loop_.run_once(Duration::millis(5)).is_ok());
  EXPECT_EQ(get("/v1/kv/k?raw").body, "v2");
}

// 200 parked queries (half ?stale) share one backend watch; a write elsewhere re-reads them in one
// backend read per mode and parks them again; a write to their key answers them all, again with
// two reads -- not 200, which would overflow a real backend's bounded worker queue.
TEST_F(KvApiTest, ManyBlockingQueriesShareOneWatchAndBatchedReads) {
  backend_->set("k", "v");
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 200; ++i) {
    const std::string mode = i % 2 ? "&stale" : "";
    clients.push_back(std::make_unique<RawClient>(
        env_.net(), addr_, "GET /v1/kv/k?index=1&wait=60s" + mode + " HTTP/1.1\r\nHost: x\r\n\r\n"));
  }
  auto flushed = [&] {
    bool all = true;
    for (auto& c : clients) all = c->flush() && all;
    return all;
  };
  ASSERT_TRUE(pump_until([&] { return flushed() && api_->parked_queries() == 200; }));
  EXPECT_EQ(backend_->watches(), 1u);
  const size_t reads = backend_->modes().size();
  EXPECT_EQ(reads, 200u);  // each query's first read
  backend_->set("other", "x");
  ASSERT_TRUE(pump_until([&] { return backend_->modes().size() == reads + 2 && api_->parked_queries() == 200; }));
  EXPECT_EQ(backend_->watches(), 1u);
  const uint64_t ok_before = server_->counters().responses_by_class[2];
  backend_->set("k", "v2");
  ASSERT_TRUE(pump_until([&] { return api_->queries() == 0; }));
  EXPECT_EQ(backend_->modes().size(), reads + 4);
  EXPECT_EQ(server_->counters().responses_by_class[2], ok_before + 200);
  EXPECT_EQ(backend_->watches(), 0u);
  EXPECT_EQ(api_->blocking_queries(), 0u);
}

// Waiting queries are bounded: past blocking_queries_max a 429; a backend that refuses a watch
// is a 429 too.
TEST_F(KvApiTest, BlockingQueriesAreBounded) {
  server_.reset();
  api_.reset();
  router_ = http::Router();
  start({.blocking = {.blocking_queries_max = 1}});
  backend_->set("k", "v");
  RawClient c(env_.net(), addr_, "GET /v1/kv/k?index=1&wait=60s HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(pump_until([&] { return c.flush() && api_->blocking_queries() == 1; }));
  ClientResponse r = get("/v1/kv/k?index=1&wait=60s");
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(get("/v1/kv/k").status, 200);  // plain reads are not blocking queries
  c.close();
  ASSERT_TRUE(pump_until([&] { return api_->blocking_queries() == 0; }));
  backend_->set_watches_max(0);
  EXPECT_EQ(get("/v1/kv/k?index=1&wait=60s").status, 429);
  EXPECT_EQ(api_->queries(), 0u);
}

// Destroying the API with a query waiting and a write in flight leaves nothing behind: the
// backend's late callbacks do nothing and the clients get an answer.
TEST_F(KvApiTest, DestroyedWithWorkInFlight) {
  backend_->set("k", "v");
  RawClient c(env_.net(), addr_, "GET /v1/kv/k?index=1&wait=60s HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(pump_until([&] { return c.flush() && api_->blocking_queries() == 1; }));
  api_.reset();
  EXPECT_EQ(backend_->watches(), 0u);
  backend_->set("k", "v2");
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(loop_.run_once(Duration::millis(1)).is_ok());
}

TEST(KvParse, GoDurations) {
  Duration d;
  struct Case {
    const char* text;
    int64_t ns;
  };
  for (Case c : {Case{"0", 0}, Case{"10s", 10'000'000'000}, Case{"1m30s", 90'000'000'000},
                 Case{"300000ms", 300'000'000'000}, Case{"1.5s", 1'500'000'000}, Case{"2h", 7'200'000'000'000},
                 Case{"100us", 100'000}, Case{"100\xc2\xb5s", 100'000}, Case{"7ns", 7}, Case{"-1s", -1'000'000'000},
                 Case{".5s", 500'000'000}}) {
    ASSERT_TRUE(kv::parse_go_duration(c.text, &d)) << c.text;
    EXPECT_EQ(d.ns(), c.ns) << c.text;
  }
  for (const char* bad : {"", "10", "s", "1x", "1.s.", "-", "1s2", "100000000h", "."}) {
    EXPECT_FALSE(kv::parse_go_duration(bad, &d)) << bad;
  }
}

TEST(KvParse, Uint64) {
  uint64_t v = 0;
  EXPECT_TRUE(kv::parse_u64("0", &v));
  EXPECT_EQ(v, 0u);
  EXPECT_TRUE(kv::parse_u64("18446744073709551615", &v));
  EXPECT_EQ(v, UINT64_MAX);
  for (const char* bad : {"", "18446744073709551616", "-1", "+1", " 1", "1e3", "0x1"}) {
    EXPECT_FALSE(kv::parse_u64(bad, &v)) << bad;
  }
}

}  // namespace
