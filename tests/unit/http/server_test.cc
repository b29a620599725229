// Proves the server over real loopback TCP and Unix sockets (hal::posix): keep-alive reuse,
// pipelined answers in order behind a deferred one, 4xx for malformed input with the server still
// serving, 413, the slowloris and idle timeouts, connections_max, 100-continue, routing (404/405
// with Allow, HEAD), and the client helper. The loop runs in the test thread; every wait is a
// pump-until-condition with a deadline, never a bare sleep.
#include <gtest/gtest.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/http/client.h"
#include "agent/http/router.h"
#include "agent/http/server.h"
#include "agent/runtime/loop.h"
#include "hal/posix/posix_env.h"

namespace {

using base::Duration;
using http::ClientResponse;
using http::Request;
using http::Responder;
using http::Response;

// A raw socket client the loop does not watch: the test reads it between loop iterations, so it
// can send any bytes, in any pieces, at any pace.
class RawClient {
 public:
  RawClient(hal::Net& net, runtime::Loop& loop, const hal::SockAddr& to) : net_(net), loop_(loop) {
    auto h = net_.connect(to);
    EXPECT_TRUE(h.is_ok()) << h.status().to_string();
    if (h.is_ok()) h_ = *h;
  }
  ~RawClient() { close(); }

  void close() {
    if (h_ != hal::kInvalidHandle) net_.close(h_);
    h_ = hal::kInvalidHandle;
  }

  // Writes every byte, running the loop while the socket would block (the server reads then).
  void send(std::string_view bytes) {
    size_t off = 0;
    base::MonoTime deadline = loop_.refresh_now() + Duration::seconds(5);
    while (off < bytes.size() && loop_.refresh_now() < deadline) {
      auto n = net_.write(h_, base::as_bytes(bytes.substr(off)));
      if (n.is_ok()) {
        off += *n;
        continue;
      }
      if (n.status().code() != base::Code::kUnavailable) {
        write_error_ = true;
        return;
      }
      pump_once();
    }
  }

  // Runs the loop and reads until `pred()` holds or `timeout` passes. Returns pred().
  bool wait_for(const std::function<bool()>& pred, Duration timeout = Duration::seconds(5)) {
    base::MonoTime deadline = loop_.refresh_now() + timeout;
    while (!pred()) {
      if (loop_.refresh_now() >= deadline) return pred();
      pump_once();
    }
    return true;
  }
  bool wait_eof(Duration timeout = Duration::seconds(5)) {
    return wait_for([this] { return eof_; }, timeout);
  }
  // Waits until `count` complete responses have arrived; returns them (fewer on timeout).
  std::vector<ClientResponse> responses(size_t count, Duration timeout = Duration::seconds(5)) {
    std::vector<ClientResponse> out;
    wait_for([&] { return parse(&out) >= count || (eof_ && parse(&out) < count); }, timeout);
    parse(&out);
    return out;
  }

  const std::string& received() const { return received_; }
  bool eof() const { return eof_; }

  void pump_once() {
    ASSERT_TRUE(loop_.run_once(Duration::millis(5)).is_ok());
    read_available();
  }

 private:
  void read_available() {
    if (h_ == hal::kInvalidHandle || eof_) return;
    uint8_t buf[4096];
    for (;;) {
      auto n = net_.read(h_, std::span<uint8_t>(buf, sizeof buf));
      if (!n.is_ok()) {
        if (n.status().code() != base::Code::kUnavailable) eof_ = true;  // reset counts as closed
        return;
      }
      if (*n == 0) {
        eof_ = true;
        return;
      }
      received_.append(reinterpret_cast<const char*>(buf), *n);
    }
  }

  // Splits received_ into complete responses.
  size_t parse(std::vector<ClientResponse>* out) {
    out->clear();
    std::string_view rest(received_);
    while (!rest.empty()) {
      http::ResponseParser p;
      size_t used = p.feed(rest);
      if (!p.complete()) break;
      out->push_back(p.take());
      rest.remove_prefix(used);
    }
    return out->size();
  }

  hal::Net& net_;
  runtime::Loop& loop_;
  hal::Handle h_ = hal::kInvalidHandle;
  std::string received_;
  bool eof_ = false;
  bool write_error_ = false;
};

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServerTest() : loop_(env_.clock(), env_.poller()) {
    router_.add("GET", "/v1/status/leader", [](Request&, Responder r) {
      r.send(Response::json(200, "\"127.0.0.1:7701\""));
    });
    router_.add("GET", "/fast", [](Request& req, Responder r) { r.send(Response::text(200, "fast " + req.target)); });
    router_.add("GET", "/slow", [this](Request&, Responder r) { deferred_.push_back(std::move(r)); });
    router_.add("GET", "/drop", [](Request&, Responder) {});
    router_.add("PUT", "/echo", [](Request& req, Responder r) { r.send(Response::text(200, std::move(req.body))); });
    router_.add("POST", "/echo", [](Request& req, Responder r) { r.send(Response::text(201, std::move(req.body))); });
    router_.add_prefix("GET", "/v1/kv/", [](Request& req, Responder r) {
      r.send(Response::text(200, "key=" + std::string(req.path_rest())));
    });
    router_.add_prefix("DELETE", "/v1/kv/", [](Request&, Responder r) { r.send(Response::text(200, "deleted")); });
    router_.add_prefix("GET", "/v1/", [](Request& req, Responder r) {
      r.send(Response::text(200, "v1 " + std::string(req.path_rest())));
    });
    router_.add("GET", "/big", [](Request&, Responder r) {
      std::string body(3 * 1024 * 1024, 'b');
      for (size_t i = 0; i < body.size(); i += 4096) body[i] = static_cast<char>('0' + (i / 4096) % 10);
      r.send(Response::text(200, std::move(body)));
    });
  }

  void start(http::ServerOptions options = {}) {
    server_ = std::make_unique<http::Server>(loop_, env_.net(), env_.clock(), router_.handler(), options);
    ASSERT_TRUE(server_->listen(hal::SockAddr::ipv4(127, 0, 0, 1, 0)).is_ok());
    auto a = server_->listen_addr(0);
    ASSERT_TRUE(a.is_ok());
    addr_ = *a;
  }

  std::unique_ptr<RawClient> connect() { return std::make_unique<RawClient>(env_.net(), loop_, addr_); }

  base::Result<ClientResponse> call(std::string method, std::string target, std::string body = "") {
    http::ClientRequest req;
    req.method = std::move(method);
    req.target = std::move(target);
    req.body = std::move(body);
    return http::http_call(loop_, env_.net(), addr_, req, Duration::seconds(5));
  }

  // Runs the loop until `pred()` or the deadline.
  bool pump_until(const std::function<bool()>& pred, Duration timeout = Duration::seconds(5)) {
    base::MonoTime deadline = loop_.refresh_now() + timeout;
    while (!pred()) {
      if (loop_.refresh_now() >= deadline) return pred();
      EXPECT_TRUE(loop_.run_once(Duration::millis(5)).is_ok());
    }
    return true;
  }

  hal::posix::PosixEnv env_;
  runtime::Loop loop_;
  http::Router router_;
  std::vector<Responder> deferred_;
  std::unique_ptr<http::Server> server_;
  hal::SockAddr addr_;
};

TEST_F(HttpServerTest, ClientCallGetPutAndRouting) {
  start();
  auto r = call("GET", "/v1/status/leader");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "\"127.0.0.1:7701\"");
  EXPECT_EQ(*r->header("content-type"), "application/json");
  ASSERT_NE(r->header("date"), nullptr);
  EXPECT_EQ(r->header("date")->size(), 29u);
  auto put = call("PUT", "/echo", std::string(100000, 'x'));
  ASSERT_TRUE(put.is_ok()) << put.status().to_string();
  EXPECT_EQ(put->body.size(), 100000u);
  auto kv = call("GET", "/v1/kv/a%2Fb/c?recurse");
  ASSERT_TRUE(kv.is_ok());
  EXPECT_EQ(kv->body, "key=a/b/c");
  auto longest = call("GET", "/v1/catalog/nodes");  // "/v1/" prefix; "/v1/kv/" is longer but no match
  ASSERT_TRUE(longest.is_ok());
  EXPECT_EQ(longest->body, "v1 catalog/nodes");
  auto missing = call("GET", "/nope");
  ASSERT_TRUE(missing.is_ok());
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(missing->body, "{\"error\":\"no such endpoint\"}");
  auto wrong = call("POST", "/v1/status/leader");
  ASSERT_TRUE(wrong.is_ok());
  EXPECT_EQ(wrong->status, 405);
  EXPECT_EQ(*wrong->header("allow"), "GET, HEAD");
  auto wrong_prefix = call("PUT", "/v1/kv/x");
  ASSERT_TRUE(wrong_prefix.is_ok());
  EXPECT_EQ(wrong_prefix->status, 405);
  EXPECT_EQ(*wrong_prefix->header("allow"), "DELETE, GET, HEAD");
  auto head = call("HEAD", "/fast");
  ASSERT_TRUE(head.is_ok());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->body, "");
  EXPECT_EQ(*head->header("content-length"), "10");
  auto dropped = call("GET", "/drop");
  ASSERT_TRUE(dropped.is_ok());
  EXPECT_EQ(dropped->status, 500);
  EXPECT_EQ(server_->counters().responses_by_class[5], 1u);
  EXPECT_EQ(server_->counters().responses_by_class[4], 3u);
}

TEST_F(HttpServerTest, KeepAliveReusesOneConnection) {
  start();
  auto c = connect();
  for (int i = 0; i < 3; ++i) {
    c->send("GET /fast?i=" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n");
    auto rs = c->responses(static_cast<size_t>(i + 1));
    ASSERT_EQ(rs.size(), static_cast<size_t>(i + 1));
    EXPECT_EQ(rs.back().body, "fast /fast?i=" + std::to_string(i));
    EXPECT_EQ(rs.back().header("connection"), nullptr);
  }
  EXPECT_FALSE(c->eof());
  EXPECT_EQ(server_->counters().connections_accepted, 1u);
  EXPECT_EQ(server_->counters().requests, 3u);
  // HTTP/1.0 keep-alive is honoured and said back; without it, 1.0 closes.
  c->send("GET /fast HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  auto rs = c->responses(4);
  ASSERT_EQ(rs.size(), 4u);
  EXPECT_EQ(*rs[3].header("connection"), "keep-alive");
  c->send("GET /fast HTTP/1.0\r\n\r\n");
  rs = c->responses(5);
  ASSERT_EQ(rs.size(), 5u);
  EXPECT_EQ(*rs[4].header("connection"), "close");
  EXPECT_TRUE(c->wait_eof());
}

TEST_F(HttpServerTest, PipelinedRequestsAnswerInOrderBehindADeferredOne) {
  start();
  auto c = connect();
  c->send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /fast?2 HTTP/1.1\r\nHost: x\r\n\r\n"
          "GET /fast?3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(pump_until([&] { return server_->counters().requests == 3; }));
  ASSERT_EQ(deferred_.size(), 1u);
  EXPECT_TRUE(deferred_[0].connection_alive());
  // The later answers are ready but must wait for the first.
  for (int i = 0; i < 10; ++i) c->pump_once();
  EXPECT_EQ(c->received(), "");
  deferred_[0].send(Response::text(200, "slow"));
  EXPECT_FALSE(deferred_[0].pending());
  auto rs = c->responses(3);
  ASSERT_EQ(rs.size(), 3u);
  EXPECT_EQ(rs[0].body, "slow");
  EXPECT_EQ(rs[1].body, "fast /fast?2");
  EXPECT_EQ(rs[2].body, "fast /fast?3");
  EXPECT_EQ(*rs[2].header("connection"), "close");
  EXPECT_TRUE(c->wait_eof());
}

TEST_F(HttpServerTest, LargeResponseToASlowReaderArrivesWhole) {
  start();
  auto c = connect();
  c->send("GET /big HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\n\r\n");
  auto rs = c->responses(2, Duration::seconds(20));
  ASSERT_EQ(rs.size(), 2u);
  ASSERT_EQ(rs[0].body.size(), 3u * 1024 * 1024);
  for (size_t i = 0; i < rs[0].body.size(); i += 4096) {
    ASSERT_EQ(rs[0].body[i], static_cast<char>('0' + (i / 4096) % 10)) << i;
  }
  EXPECT_EQ(rs[1].body, "fast /fast");
}

TEST_F(HttpServerTest, PipelineDepthHoldsBackLaterRequests) {
  http::ServerOptions options;
  options.pipeline_depth_max = 2;
  start(options);
  auto c = connect();
  std::string four;
  for (int i = 0; i < 4; ++i) four += "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n";
  c->send(four);
  ASSERT_TRUE(pump_until([&] { return deferred_.size() == 2; }));
  for (int i = 0; i < 10; ++i) c->pump_once();
  EXPECT_EQ(deferred_.size(), 2u);  // held back: the pipeline is full
  deferred_[0].send(Response::text(200, "1"));
  ASSERT_TRUE(pump_until([&] { return deferred_.size() == 3; }));
  deferred_[1].send(Response::text(200, "2"));
  deferred_[2].send(Response::text(200, "3"));
  ASSERT_TRUE(pump_until([&] { return deferred_.size() == 4; }));
  deferred_[3].send(Response::text(200, "4"));
  auto rs = c->responses(4);
  ASSERT_EQ(rs.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(rs[static_cast<size_t>(i)].body, std::to_string(i + 1));
}

TEST_F(HttpServerTest, DeferredResponseIsCancelledWhenTheClientGoes) {
  start();
  bool cancelled = false;
  {
    auto c = connect();
    c->send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(pump_until([&] { return deferred_.size() == 1; }));
    deferred_[0].on_cancel([&] { cancelled = true; });
  }  // the client closes
  ASSERT_TRUE(pump_until([&] { return cancelled; }));
  EXPECT_FALSE(deferred_[0].connection_alive());
  deferred_[0].send(Response::text(200, "too late"));  // dropped, harmless
  EXPECT_EQ(server_->connections_open(), 0u);
  // A Responder that outlives the server does nothing either.
  auto c = connect();
  c->send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(pump_until([&] { return deferred_.size() == 2; }));
  server_.reset();
  EXPECT_FALSE(deferred_[1].connection_alive());
  deferred_[1].send(Response::text(200, "server gone"));
}

TEST_F(HttpServerTest, MalformedInputGetsItsStatusAndTheServerKeepsServing) {
  http::ServerOptions options;
  options.limits.request_line_bytes_max = 256;
  options.limits.header_count_max = 10;
  start(options);
  struct Case {
    std::string bytes;
    int status;
  };
  std::vector<Case> cases = {
      {"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n folded\r\n\r\n", 400},
      {"GET / HTTP/1.1\nHost: x\n\n", 400},
      {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
      {"GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
      {"GET /" + std::string(400, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", 414},
      {"GET / HTTP/1.1\r\nHost: x\r\n" + std::string("A: b\r\n") + "B: b\r\nC: b\r\nD: b\r\nE: b\r\nF: b\r\n"
       "G: b\r\nH: b\r\nI: b\r\nJ: b\r\n\r\n", 431},
  };
  for (const Case& tc : cases) {
    auto c = connect();
    c->send(tc.bytes);
    auto rs = c->responses(1);
    ASSERT_EQ(rs.size(), 1u) << tc.bytes;
    EXPECT_EQ(rs[0].status, tc.status) << tc.bytes;
    EXPECT_EQ(*rs[0].header("connection"), "close");
    EXPECT_EQ(rs[0].body.substr(0, 10), "{\"error\":\"");
    EXPECT_TRUE(c->wait_eof()) << tc.bytes;
    // A fresh connection is served normally.
    auto ok = call("GET", "/fast");
    ASSERT_TRUE(ok.is_ok());
    EXPECT_EQ(ok->status, 200);
  }
  EXPECT_EQ(server_->counters().parse_errors, cases.size());
  // A good request pipelined before a bad one is still answered first.
  auto c = connect();
  c->send("GET /fast HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/9.9\r\n\r\n");
  auto rs = c->responses(2);
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0].status, 200);
  EXPECT_EQ(rs[1].status, 505);
  EXPECT_TRUE(c->wait_eof());
  ASSERT_TRUE(pump_until([&] { return server_->connections_open() == 0; }));
}

TEST_F(HttpServerTest, OversizedBodyGets413) {
  http::ServerOptions options;
  options.limits.body_bytes_max = 1024;
  start(options);
  {
    auto c = connect();
    c->send("PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + std::string(8000, 'x'));
    auto rs = c->responses(1);
    ASSERT_EQ(rs.size(), 1u);
    EXPECT_EQ(rs[0].status, 413);
    EXPECT_TRUE(c->wait_eof());
  }
  {
    auto c = connect();
    c->send("PUT /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n" + std::string(1024, 'y') +
            "\r\n1\r\nz\r\n");
    auto rs = c->responses(1);
    ASSERT_EQ(rs.size(), 1u);
    EXPECT_EQ(rs[0].status, 413);
    EXPECT_TRUE(c->wait_eof());
  }
  auto ok = call("PUT", "/echo", std::string(1024, 'k'));
  ASSERT_TRUE(ok.is_ok());
  EXPECT_EQ(ok->status, 200);
  auto too_big = call("PUT", "/echo", std::string(1025, 'k'));
  ASSERT_TRUE(too_big.is_ok()) << too_big.status().to_string();
  EXPECT_EQ(too_big->status, 413);
}

TEST_F(HttpServerTest, ExpectContinueGets100BeforeTheBody) {
  start();
  auto c = connect();
  c->send("PUT /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  ASSERT_TRUE(c->wait_for([&] { return c->received().find("\r\n\r\n") != std::string::npos; }));
  EXPECT_EQ(c->received(), "HTTP/1.1 100 Continue\r\n\r\n");
  c->send("hello");
  auto rs = c->responses(1);  // the parser skips the interim response
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].status, 200);
  EXPECT_EQ(rs[0].body, "hello");
  EXPECT_EQ(server_->counters().responses_by_class[1], 1u);
}

TEST_F(HttpServerTest, SlowlorisHeaderTimeoutCloses) {
  http::ServerOptions options;
  options.header_timeout = Duration::millis(300);
  start(options);
  auto c = connect();
  base::MonoTime started = loop_.refresh_now();
  const std::string head = "GET /fast HTTP/1.1\r\nHost: x\r\nX-Slow: ";
  c->send(head);
  // Keep trickling bytes: progress does not extend the header deadline.
  while (!c->eof() && loop_.refresh_now() - started < Duration::seconds(3)) {
    c->send("a");
    c->wait_for([] { return false; }, Duration::millis(40));
  }
  ASSERT_TRUE(c->eof());
  EXPECT_LT(loop_.refresh_now() - started, Duration::seconds(2));
  auto rs = c->responses(1);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].status, 408);
  EXPECT_EQ(server_->counters().header_timeouts, 1u);
  // A connection that never sends a byte is closed silently after the same timeout.
  auto quiet = connect();
  ASSERT_TRUE(quiet->wait_eof());
  EXPECT_EQ(quiet->received(), "");
  EXPECT_EQ(server_->counters().header_timeouts, 2u);
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionCloses) {
  http::ServerOptions options;
  options.idle_timeout = Duration::millis(200);
  start(options);
  auto c = connect();
  c->send("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(c->responses(1).size(), 1u);
  base::MonoTime answered = loop_.refresh_now();
  ASSERT_TRUE(c->wait_eof());
  EXPECT_GE(loop_.refresh_now() - answered, Duration::millis(150));
  EXPECT_EQ(server_->counters().idle_timeouts, 1u);
  EXPECT_EQ(c->responses(1).size(), 1u);  // nothing more was written
}

TEST_F(HttpServerTest, ConnectionsMaxIsHonoured) {
  http::ServerOptions options;
  options.connections_max = 2;
  start(options);
  auto a = connect();
  auto b = connect();
  ASSERT_TRUE(pump_until([&] { return server_->connections_open() == 2; }));
  auto refused = connect();
  auto rs = refused->responses(1);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].status, 503);
  EXPECT_EQ(rs[0].body, "{\"error\":\"too many connections\"}");
  EXPECT_TRUE(refused->wait_eof());
  EXPECT_EQ(server_->counters().connections_refused, 1u);
  // The two admitted connections still work.
  a->send("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(a->responses(1).size(), 1u);
  // Freeing a slot admits the next client.
  b->close();
  ASSERT_TRUE(pump_until([&] { return server_->connections_open() == 1; }));
  auto c = connect();
  c->send("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n");
  auto ok = c->responses(1);
  ASSERT_EQ(ok.size(), 1u);
  EXPECT_EQ(ok[0].status, 200);
}

TEST_F(HttpServerTest, UnixSocketServesTheSameApi) {
  start();
  std::string path = "/tmp/weft-http-test-" + std::to_string(::getpid()) + ".sock";
  ASSERT_TRUE(server_->listen(hal::SockAddr::unix_path(path)).is_ok());
  http::ClientRequest req;
  req.target = "/v1/status/leader";
  auto r = http::http_call(loop_, env_.net(), hal::SockAddr::unix_path(path), req, Duration::seconds(5));
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "\"127.0.0.1:7701\"");
  server_.reset();
  ::unlink(path.c_str());
}

TEST_F(HttpServerTest, ClientTimesOutOnASilentServer) {
  start();
  http::ClientRequest req;
  req.target = "/slow";
  auto r = http::http_call(loop_, env_.net(), addr_, req, Duration::millis(200));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), base::Code::kTimeout);
  deferred_.clear();
  // Nothing listens here any more: a refused connect is an error value.
  hal::SockAddr gone = addr_;
  server_.reset();
  auto refused = http::http_call(loop_, env_.net(), gone, req, Duration::seconds(2));
  EXPECT_FALSE(refused.is_ok());
}

}  // namespace
