// Proves agentctl's kv, operator raft and status commands: the requests they send, how they print
// answers (as `consul kv` / `consul operator raft` do), their exit codes and usage errors. A fake
// agent runs in a second thread on its own loop behind a Unix socket: the real KvApi over
// TestBackend (a state::Store in a temp dir) for /v1/kv, canned JSON for the endpoints the Raft
// server host will serve. agentctl runs in the test thread, exactly as the binary runs it.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/base/log.h"
#include "agent/ctl/ctl.h"
#include "agent/http/router.h"
#include "agent/http/server.h"
#include "agent/kv/kv_api.h"
#include "hal/posix/posix_env.h"
#include "tests/unit/ctl/ctl_helpers.h"
#include "tests/unit/kv/test_backend.h"

namespace {

using base::Duration;

struct Canned {
  int status = 200;
  std::string body;
};

// The fake agent: everything it owns lives and runs on its own thread.
class FakeAgent {
 public:
  FakeAgent(std::string dir, std::map<std::string, Canned> canned) : dir_(std::move(dir)), canned_(std::move(canned)) {
    thread_ = std::thread([this] { run(); });
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return ready_; });
  }
  ~FakeAgent() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (loop_ != nullptr) loop_->stop();
    }
    thread_.join();
  }

  std::string socket() const { return dir_ + "/agent.sock"; }
  bool ok() const { return ok_; }

  // "METHOD target" of every request so far.
  std::vector<std::string> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  std::string last_request() {
    auto r = requests();
    return r.empty() ? "" : r.back();
  }
  // When a request for exactly `target` ("GET /v1/kv/k?index=1&wait=300s") arrives, writes
  // key=value on the agent's thread `delay` later (another client's write), once.
  void set_on_request(std::string target, Duration delay, std::string key, std::string value) {
    std::lock_guard<std::mutex> lock(mu_);
    triggers_.push_back(Trigger{std::move(target), delay, std::move(key), std::move(value)});
  }

 private:
  void run() {
    hal::posix::PosixEnv env;
    runtime::Loop loop(env.clock(), env.poller());
    base::Logger logger;
    auto store = state::Store::open(dir_ + "/state.db");
    ok_ = store.is_ok();
    std::unique_ptr<state::Store> s = ok_ ? std::move(store).value() : nullptr;
    std::unique_ptr<kvtest::TestBackend> backend;
    std::unique_ptr<kv::KvApi> api;
    http::Router router;
    if (ok_) {
      backend = std::make_unique<kvtest::TestBackend>(loop, *s);
      api = std::make_unique<kv::KvApi>(loop, *backend, logger);
      api->add_routes(router);
    }
    for (const auto& [route, answer] : canned_) {
      const size_t sp = route.find(' ');
      Canned c = answer;
      router.add(route.substr(0, sp), route.substr(sp + 1),
                 [c](http::Request&, http::Responder r) { r.send(http::Response::json(c.status, c.body)); });
    }
    auto handler = [this, &router, &loop](http::Request& req, http::Responder r) {
      std::vector<Trigger> fire;
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(req.method + " " + req.target);
        for (auto it = triggers_.begin(); it != triggers_.end();) {
          if (it->target == requests_.back()) {
            fire.push_back(*it);
            it = triggers_.erase(it);
          } else {
            ++it;
          }
        }
      }
      for (const Trigger& t : fire) {
        auto id = loop.arm_after(t.delay, [this, t] { backend_->set(t.key, t.value); });
        EXPECT_TRUE(id.is_ok());
      }
      router.dispatch(req, std::move(r));
    };
    http::Server server(loop, env.net(), env.clock(), handler);
    ok_ = ok_ && server.listen(hal::SockAddr::unix_path(socket())).is_ok();
    {
      std::lock_guard<std::mutex> lock(mu_);
      loop_ = &loop;
      backend_ = backend.get();
      ready_ = true;
    }
    cv_.notify_all();
    if (ok_) {
      EXPECT_TRUE(loop.run().is_ok());
    }
    std::lock_guard<std::mutex> lock(mu_);
    loop_ = nullptr;
  }

  std::string dir_;
  std::map<std::string, Canned> canned_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool ready_ = false;
  bool ok_ = false;
  runtime::Loop* loop_ = nullptr;
  kvtest::TestBackend* backend_ = nullptr;
  std::vector<std::string> requests_;
  struct Trigger {
    std::string target;
    Duration delay;
    std::string key, value;
  };
  std::vector<Trigger> triggers_;
};

using ctltest::RunResult;

class CtlTest : public ::testing::Test {
 protected:
  CtlTest() {
    dir_ = ctltest::make_temp_dir("weft-ctl-");
    EXPECT_FALSE(dir_.empty());
  }
  ~CtlTest() override {
    agent_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void start(std::map<std::string, Canned> canned = {}) {
    agent_ = std::make_unique<FakeAgent>(dir_, std::move(canned));
    ASSERT_TRUE(agent_->ok());
  }

  RunResult ctl(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {"-socket", agent_ ? agent_->socket() : dir_ + "/none.sock"});
    return ctltest::run_ctl(env_.env(), args, input);
  }

  hal::posix::PosixEnv env_;
  std::string dir_;
  std::unique_ptr<FakeAgent> agent_;
};

// put, get (plain, -detailed, -recurse, -keys), delete and their Consul wording, end to end.
TEST_F(CtlTest, KvPutGetDelete) {
  start();
  RunResult r = ctl({"kv", "put", "app/db/host", "10.0.0.5"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "Success! Data written to: app/db/host\n");
  EXPECT_EQ(agent_->last_request(), "PUT /v1/kv/app/db/host");
  r = ctl({"kv", "get", "app/db/host"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.out, "10.0.0.5\n");
  EXPECT_EQ(ctl({"kv", "put", "-flags", "42", "app/db/port", "5432"}).rc, 0);
  EXPECT_EQ(agent_->last_request(), "PUT /v1/kv/app/db/port?flags=42");
  r = ctl({"kv", "get", "-detailed", "app/db/port"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.out,
            "CreateIndex      2\n"
            "Flags            42\n"
            "Key              app/db/port\n"
            "LockIndex        0\n"
            "ModifyIndex      2\n"
            "Session          -\n"
            "Value            5432\n");
  EXPECT_EQ(ctl({"kv", "put", "app/web", "on"}).rc, 0);
  r = ctl({"kv", "get", "-recurse", "app/db/"});
  EXPECT_EQ(r.out, "app/db/host:10.0.0.5\napp/db/port:5432\n");
  EXPECT_EQ(agent_->last_request(), "GET /v1/kv/app/db/?recurse");
  r = ctl({"kv", "get", "-keys", "app/"});
  EXPECT_EQ(r.out, "app/db/\napp/web\n");
  EXPECT_EQ(agent_->last_request(), "GET /v1/kv/app/?keys&separator=%2F");
  r = ctl({"kv", "get", "-keys", "-separator", "", "app/"});
  EXPECT_EQ(r.out, "app/db/host\napp/db/port\napp/web\n");
  r = ctl({"kv", "get", "-recurse", "-detailed", "app/db/"});
  EXPECT_NE(r.out.find("Value            10.0.0.5\n\nCreateIndex      2\n"), std::string::npos) << r.out;
  // A missing key: Consul's message, exit 1; an empty prefix: nothing, exit 0.
  r = ctl({"kv", "get", "nope"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "Error! No key exists at: nope\n");
  r = ctl({"kv", "get", "-recurse", "nothing/"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.out, "");
  r = ctl({"kv", "delete", "app/web"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.out, "Success! Deleted key: app/web\n");
  r = ctl({"kv", "delete", "-recurse", "app/"});
  EXPECT_EQ(r.out, "Success! Deleted keys with prefix: app/\n");
  EXPECT_EQ(agent_->last_request(), "DELETE /v1/kv/app/?recurse");
  EXPECT_EQ(ctl({"kv", "get", "app/db/host"}).rc, 1);
}

// -cas with -modify-index: a stale index fails with exit 1, the right one succeeds; keys with
// spaces and non-ASCII bytes are escaped on the way.
TEST_F(CtlTest, KvCasAndEscaping) {
  start();
  EXPECT_EQ(ctl({"kv", "put", "-cas", "lock", "a"}).rc, 0);  // index 0: create only
  EXPECT_EQ(agent_->last_request(), "PUT /v1/kv/lock?cas=0");
  RunResult r = ctl({"kv", "put", "-cas", "lock", "b"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "Error! Did not write to lock: CAS failed\n");
  EXPECT_EQ(ctl({"kv", "put", "-cas", "-modify-index", "1", "lock", "c"}).rc, 0);
  r = ctl({"kv", "delete", "-cas", "-modify-index", "1", "lock"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "Error! Did not delete key lock: CAS failed\n");
  // Every proposal takes a Raft index, refused CASes too: "c" was written at 3.
  EXPECT_EQ(ctl({"kv", "delete", "-cas", "-modify-index=3", "lock"}).rc, 0);
  EXPECT_EQ(agent_->last_request(), "DELETE /v1/kv/lock?cas=3");
  EXPECT_EQ(ctl({"kv", "put", "dir/a key\xc3\xa9", "v"}).rc, 0);
  EXPECT_EQ(agent_->last_request(), "PUT /v1/kv/dir/a%20key%C3%A9");
  EXPECT_EQ(ctl({"kv", "get", "dir/a key\xc3\xa9"}).out, "v\n");
}

// VALUE '-' reads standard input byte for byte, bounded at 512 KiB.
TEST_F(CtlTest, KvPutFromStdin) {
  start();
  const std::string value("line one\nline two\n\0bin", 22);
  RunResult r = ctl({"kv", "put", "k", "-"}, value);
  EXPECT_EQ(r.rc, 0) << r.err;
  r = ctl({"-format", "json", "kv", "get", "k"});
  EXPECT_NE(r.out.find("\"Value\":\"bGluZSBvbmUKbGluZSB0d28KAGJpbg==\""), std::string::npos) << r.out;
  EXPECT_EQ(ctl({"kv", "put", "k", "-"}, std::string(512 * 1024, 'x')).rc, 0);
  r = ctl({"kv", "put", "k", "-"}, std::string(512 * 1024 + 1, 'x'));
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("over 512 KiB"), std::string::npos);
  // No VALUE stores an empty value.
  EXPECT_EQ(ctl({"kv", "put", "empty"}).rc, 0);
  EXPECT_EQ(ctl({"kv", "get", "empty"}).out, "\n");
}

// -stale and -consistent reach the API; -format json prints its answers as they are.
TEST_F(CtlTest, KvReadModesAndJson) {
  start();
  ASSERT_EQ(ctl({"kv", "put", "k", "v"}).rc, 0);
  EXPECT_EQ(ctl({"kv", "get", "-stale", "k"}).out, "v\n");
  EXPECT_EQ(agent_->last_request(), "GET /v1/kv/k?stale");
  EXPECT_EQ(ctl({"kv", "get", "k", "-consistent"}).out, "v\n");
  EXPECT_EQ(agent_->last_request(), "GET /v1/kv/k?consistent");
  RunResult r = ctl({"-format", "json", "kv", "get", "k"});
  EXPECT_EQ(r.out, "[{\"LockIndex\":0,\"Key\":\"k\",\"Flags\":0,\"Value\":\"dg==\",\"CreateIndex\":1,\"ModifyIndex\":1}]\n");
  r = ctl({"-format", "json", "kv", "get", "missing"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.out, "null\n");
  EXPECT_EQ(ctl({"-format", "json", "kv", "put", "-cas", "k", "x"}).out, "false\n");
}

// Bad command lines are exit 2 with a line saying why, and send nothing.
TEST_F(CtlTest, KvUsageErrors) {
  start();
  struct Case {
    std::vector<std::string> args;
    const char* says;
  };
  for (const Case& c : std::vector<Case>{
           {{"kv"}, "usage: agentctl kv"},
           {{"kv", "list"}, "unknown subcommand"},
           {{"kv", "get"}, "usage: agentctl kv get"},
           {{"kv", "get", "a", "b"}, "usage: agentctl kv get"},
           {{"kv", "get", "-stale", "-consistent", "k"}, "exclude each other"},
           {{"kv", "get", "-bogus", "k"}, "unknown flag -bogus"},
           {{"kv", "get", "-keys", "-detailed", "k"}, "-detailed"},
           {{"kv", "put"}, "usage: agentctl kv put"},
           {{"kv", "put", "-flags", "abc", "k", "v"}, "-flags: want a whole number"},
           {{"kv", "put", "-flags"}, "-flags needs a value"},
           {{"kv", "put", "-modify-index", "3", "k", "v"}, "Cannot specify -modify-index without -cas!"},
           {{"kv", "delete"}, "usage: agentctl kv delete"},
           {{"kv", "delete", "-cas", "k"}, "Must specify -modify-index with -cas!"},
           {{"kv", "delete", "-cas", "-modify-index", "1", "-recurse", "k"}, "Cannot specify both -cas and -recurse!"},
           {{"kv", "watch"}, "usage: agentctl kv watch"},
           {{"kv", "watch", "-count", "0", "k"}, "usage: agentctl kv watch"},
           {{"operator"}, "usage: agentctl operator raft"},
           {{"operator", "raft", "peers"}, "unknown subcommand"},
           {{"operator", "raft", "remove-peer"}, "usage: agentctl operator raft remove-peer -id ID"},
           {{"operator", "raft", "remove-peer", "-id"}, "usage"},
           {{"operator", "raft", "transfer-leader", "node2"}, "usage"},
           {{"operator", "raft", "list-peers", "x"}, "usage"},
       }) {
    RunResult r = ctl(c.args);
    std::string joined;
    for (const auto& a : c.args) joined += a + " ";
    EXPECT_EQ(r.rc, 2) << joined << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << joined << ": " << r.err;
  }
  EXPECT_TRUE(agent_->requests().empty());
}

// watch prints the current value and then each change, and stops after -count prints.
TEST_F(CtlTest, KvWatch) {
  start();
  ASSERT_EQ(ctl({"kv", "put", "cfg", "one"}).rc, 0);
  // Once the blocking read is waiting: a write elsewhere (moves the applied index, not cfg's),
  // then cfg's own.
  agent_->set_on_request("GET /v1/kv/cfg?index=1&wait=300s", Duration::millis(20), "other", "x");
  agent_->set_on_request("GET /v1/kv/cfg?index=1&wait=300s", Duration::millis(60), "cfg", "two");
  RunResult r = ctl({"kv", "watch", "-count", "2", "cfg"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "one\ntwo\n");
  auto reqs = agent_->requests();
  ASSERT_GE(reqs.size(), 3u);
  EXPECT_EQ(reqs[1], "GET /v1/kv/cfg?index=0&wait=300s");
  EXPECT_EQ(reqs[2], "GET /v1/kv/cfg?index=1&wait=300s");
  // A recursive watch of a prefix with nothing under it says so, then shows the first write.
  agent_->set_on_request("GET /v1/kv/svc/?recurse&index=3&wait=300s", Duration::millis(20), "svc/a", "1");
  r = ctl({"kv", "watch", "-recurse", "-count", "2", "svc/"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "(no keys under svc/)\nsvc/a:1\n--\n");
  // A missing key's index moves with any write; an answer that did not change prints nothing.
  agent_->set_on_request("GET /v1/kv/ghost?index=4&wait=300s", Duration::millis(20), "elsewhere", "x");
  agent_->set_on_request("GET /v1/kv/ghost?index=5&wait=300s", Duration::millis(20), "ghost", "boo");
  r = ctl({"kv", "watch", "-count", "2", "ghost"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "(no key at ghost)\nboo\n");
  EXPECT_EQ(agent_->last_request(), "GET /v1/kv/ghost?index=5&wait=300s");
}

// No agent: exit 3 with one line on stderr.
TEST_F(CtlTest, NoAgent) {
  RunResult r = ctl({"kv", "get", "k"});
  EXPECT_EQ(r.rc, 3);
  EXPECT_NE(r.err.find("no agent is running"), std::string::npos) << r.err;
  EXPECT_EQ(ctl({"operator", "raft", "list-peers"}).rc, 3);
}

constexpr const char* kConfiguration = R"({"Servers":[
  {"ID":"2c5b9f3e-aaaa","Node":"node1","Address":"10.0.0.1:7701","Leader":true,"Voter":true,"RaftProtocol":"3"},
  {"ID":"77e1c0d2-bbbb","Node":"node-two","Address":"10.0.0.22:7701","Leader":false,"Voter":true,"RaftProtocol":"3"},
  {"ID":"c3","Node":"n3","Address":"10.0.0.3:7701","Leader":false,"Voter":false,"RaftProtocol":"3"}],"Index":42})";

// list-peers prints Consul's table; transfer-leader and remove-peer send Consul's requests.
TEST_F(CtlTest, OperatorRaft) {
  start({{"GET /v1/operator/raft/configuration", {200, kConfiguration}},
         {"POST /v1/operator/raft/transfer-leader", {200, R"({"Success":true})"}},
         {"DELETE /v1/operator/raft/peer", {200, ""}}});
  RunResult r = ctl({"operator", "raft", "list-peers"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out,
            "Node      ID             Address         State     Voter  RaftProtocol\n"
            "node1     2c5b9f3e-aaaa  10.0.0.1:7701   leader    true   3\n"
            "node-two  77e1c0d2-bbbb  10.0.0.22:7701  follower  true   3\n"
            "n3        c3             10.0.0.3:7701   follower  false  3\n");
  r = ctl({"-format", "json", "operator", "raft", "list-peers"});
  EXPECT_EQ(r.out, std::string(kConfiguration) + "\n");
  r = ctl({"operator", "raft", "transfer-leader", "-id", "77e1c0d2-bbbb"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(agent_->last_request(), "POST /v1/operator/raft/transfer-leader?id=77e1c0d2-bbbb");
  EXPECT_EQ(r.out, "Success! Leadership transferred to 77e1c0d2-bbbb.\n");
  r = ctl({"operator", "raft", "transfer-leader"});
  EXPECT_EQ(agent_->last_request(), "POST /v1/operator/raft/transfer-leader");
  EXPECT_EQ(r.out, "Success! Leadership transferred.\n");
  r = ctl({"operator", "raft", "remove-peer", "-id=c3"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(agent_->last_request(), "DELETE /v1/operator/raft/peer?id=c3");
  EXPECT_EQ(r.out, "Removed peer with id \"c3\"\n");
}

// The agent's refusals reach the operator: Consul's plain-text errors and the API's JSON ones.
TEST_F(CtlTest, OperatorRaftErrors) {
  start({{"GET /v1/operator/raft/configuration", {500, "No cluster leader"}},
         {"POST /v1/operator/raft/transfer-leader", {200, R"({"Success":false})"}},
         {"DELETE /v1/operator/raft/peer", {400, R"({"error":"no server with id x"})"}}});
  RunResult r = ctl({"operator", "raft", "list-peers"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "Error! No cluster leader\n");
  r = ctl({"operator", "raft", "transfer-leader"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "Error! Leadership transfer failed\n");
  r = ctl({"operator", "raft", "remove-peer", "-id", "x"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "Error! no server with id x\n");
}

constexpr const char* kSelf =
    R"({"Config":{"NodeName":"node1","NodeID":"abc","Datacenter":"dc1","Version":"0.1.0","Roles":["foundation"],)"
    R"("Server":true,"Dev":false},"Stats":{"agent":{"uptime_seconds":65},"runtime":{"rss_bytes":4194304}}})";

// status adds the Raft lines when the agent serves /v1/status/raft, and is unchanged otherwise.
TEST_F(CtlTest, StatusShowsRaft) {
  start({{"GET /v1/agent/self", {200, kSelf}},
         {"GET /v1/agent/health", {200, R"({"Reasons":[]})"}},
         {"GET /v1/status/raft",
          {200, R"({"Role":"leader","Leader":"node1","LeaderAddr":"10.0.0.1:7701","Term":7,"CommitIndex":120,)"
                R"("AppliedIndex":119,"LastIndex":121,"Voters":["node1","node2","node3"]})"}}});
  RunResult r = ctl({"status"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("health:     healthy\n"
                       "raft:       leader, term 7\n"
                       "leader:     node1 (10.0.0.1:7701)\n"
                       "log:        commit 120, applied 119, last 121\n"
                       "voters:     node1, node2, node3\n"),
            std::string::npos)
      << r.out;
  r = ctl({"-format", "json", "status"});
  EXPECT_NE(r.out.find("\"raft\":{\"Role\":\"leader\""), std::string::npos) << r.out;
}

TEST_F(CtlTest, StatusWithoutRaft) {
  start({{"GET /v1/agent/self", {200, kSelf}}, {"GET /v1/agent/health", {200, R"({"Reasons":[]})"}}});
  RunResult r = ctl({"status"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out.find("raft:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("health:     healthy\n"), std::string::npos);
}

}  // namespace
