// rpc::Endpoint over real loopback sockets with mutual TLS: calls and answers (at once, later,
// out of order, before the handshake finished), unknown methods, deadlines, an unreachable peer
// and its redial backoff, a peer from another CA or with another name, a server that goes away.
#include "agent/rpc/endpoint.h"

#include <gtest/gtest.h>

#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hal/posix/posix_env.h"

namespace {

using base::Duration;
namespace tls = hal::tls;

struct Pki {
  std::unique_ptr<tls::TlsConfig> server;
  std::unique_ptr<tls::TlsConfig> client;
};

// A CA and a server and client certificate from it; `server_cn` names the server's certificate.
Pki make_pki(const char* server_cn) {
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  auto spec = [&](const char* n) { return tls::CertSpec{n, now - 60, now + 3600}; };
  auto ca = tls::make_ca(spec("test-ca")).value();
  auto s = tls::make_node_cert(ca, spec(server_cn)).value();
  auto c = tls::make_node_cert(ca, spec("client.dc1.weft")).value();
  Pki p;
  p.server = tls::TlsConfig::create(tls::Role::kServer, {ca.cert_pem, s.cert_pem, s.key_pem}).value();
  p.client = tls::TlsConfig::create(tls::Role::kClient, {ca.cert_pem, c.cert_pem, c.key_pem}).value();
  return p;
}

class EndpointTest : public ::testing::Test {
 protected:
  EndpointTest() : loop_(env_.clock(), env_.poller()) {}

  void start_server(const Pki& pki) {
    server_ = std::make_unique<rpc::Endpoint>(loop_, env_.net(), pki.server.get(), nullptr, "", log_);
    server_->add_method("echo", [](std::string body, const std::string&, rpc::Endpoint::Respond r) { r(body); });
    server_->add_method("subject", [](std::string, const std::string& subject, rpc::Endpoint::Respond r) { r(subject); });
    server_->add_method("later", [this](std::string body, const std::string&, rpc::Endpoint::Respond r) {
      held_.emplace_back(std::move(body), std::move(r));
    });
    server_->add_method("fail", [](std::string, const std::string&, rpc::Endpoint::Respond r) {
      r(base::error(base::Code::kFailedPrecondition, "no such thing"));
    });
    ASSERT_TRUE(server_->listen(hal::SockAddr::ipv4(127, 0, 0, 1, 0)).is_ok());
    addr_ = server_->listen_addr().value();
  }
  void start_client(const Pki& pki, const char* server_name = "server.dc1.weft", rpc::EndpointOptions o = {}) {
    client_ = std::make_unique<rpc::Endpoint>(loop_, env_.net(), nullptr, pki.client.get(), server_name, log_, o);
  }

  // Calls and returns a slot that fills when the reply comes.
  std::shared_ptr<std::optional<base::Result<std::string>>> call(const std::string& method, std::string body,
                                                                  Duration timeout = Duration::seconds(5),
                                                                  std::optional<hal::SockAddr> to = std::nullopt) {
    auto slot = std::make_shared<std::optional<base::Result<std::string>>>();
    client_->call(to ? *to : addr_, method, std::move(body), timeout,
                  [slot](base::Result<std::string> r) { *slot = std::move(r); });
    return slot;
  }

  bool pump_until(const std::function<bool()>& pred, Duration timeout = Duration::seconds(10)) {
    base::MonoTime deadline = loop_.refresh_now() + timeout;
    while (!pred()) {
      if (loop_.refresh_now() >= deadline) return pred();
      EXPECT_TRUE(loop_.run_once(Duration::millis(5)).is_ok());
    }
    return true;
  }

  hal::posix::PosixEnv env_;
  base::Logger log_;
  runtime::Loop loop_;
  std::unique_ptr<rpc::Endpoint> server_;
  std::unique_ptr<rpc::Endpoint> client_;
  hal::SockAddr addr_;
  std::vector<std::pair<std::string, rpc::Endpoint::Respond>> held_;
};

TEST_F(EndpointTest, CallsQueuedBeforeTheHandshakeAreAllAnsweredOverOneConnection) {
  Pki pki = make_pki("server.dc1.weft");
  start_server(pki);
  start_client(pki);
  std::vector<std::shared_ptr<std::optional<base::Result<std::string>>>> slots;
  for (int i = 0; i < 100; ++i) slots.push_back(call("echo", "m" + std::to_string(i)));
  ASSERT_TRUE(pump_until([&] {
    for (auto& s : slots) if (!s->has_value()) return false;
    return true;
  }));
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE((*slots[i])->is_ok()) << (*slots[i])->status().to_string();
    EXPECT_EQ(***slots[i], "m" + std::to_string(i));
  }
  EXPECT_EQ(client_->counters().dials, 1u);
  EXPECT_EQ(server_->counters().accepted, 1u);
  EXPECT_EQ(server_->counters().calls_in, 100u);
}

TEST_F(EndpointTest, LaterAnswersComeBackOutOfOrderAndErrorsKeepTheirCode) {
  Pki pki = make_pki("server.dc1.weft");
  start_server(pki);
  start_client(pki);
  auto a = call("later", "a");
  auto b = call("later", "b");
  ASSERT_TRUE(pump_until([&] { return held_.size() == 2; }));
  held_[1].second(std::string("B"));  // answer the second first
  ASSERT_TRUE(pump_until([&] { return b->has_value(); }));
  EXPECT_FALSE(a->has_value());
  held_[0].second(std::string("A"));
  ASSERT_TRUE(pump_until([&] { return a->has_value(); }));
  EXPECT_EQ(***a, "A");
  EXPECT_EQ(***b, "B");
  held_[0].second(std::string("again"));  // a second answer is ignored

  auto f = call("fail", "");
  auto u = call("no-such-method", "");
  auto subj = call("subject", "");
  ASSERT_TRUE(pump_until([&] { return f->has_value() && u->has_value() && subj->has_value(); }));
  EXPECT_EQ((*f)->status().code(), base::Code::kFailedPrecondition);
  EXPECT_NE((*f)->status().message().find("no such thing"), std::string::npos);
  EXPECT_EQ((*u)->status().code(), base::Code::kNotFound);
  ASSERT_TRUE((*subj)->is_ok());
  EXPECT_NE((***subj).find("CN=client.dc1.weft"), std::string::npos) << ***subj;
  EXPECT_EQ(server_->counters().unknown_methods, 1u);
}

TEST_F(EndpointTest, AnUnansweredCallTimesOut) {
  Pki pki = make_pki("server.dc1.weft");
  start_server(pki);
  start_client(pki);
  auto slot = call("later", "x", Duration::millis(300));
  base::MonoTime t0 = loop_.refresh_now();
  ASSERT_TRUE(pump_until([&] { return slot->has_value(); }));
  EXPECT_EQ((*slot)->status().code(), base::Code::kTimeout);
  EXPECT_GE((loop_.refresh_now() - t0).ms(), 250);
  EXPECT_EQ(client_->counters().timeouts, 1u);
  // The connection survives a timed-out call.
  auto ok = call("echo", "still here");
  ASSERT_TRUE(pump_until([&] { return ok->has_value(); }));
  EXPECT_EQ(***ok, "still here");
}

TEST_F(EndpointTest, AnUnreachablePeerFailsAndIsNotRedialledDuringTheBackoff) {
  Pki pki = make_pki("server.dc1.weft");
  start_server(pki);
  hal::SockAddr dead = addr_;
  server_.reset();  // nothing listens there now
  rpc::EndpointOptions o;
  o.redial_backoff = Duration::seconds(30);
  start_client(pki, "server.dc1.weft", o);
  auto first = call("echo", "x", Duration::seconds(5), dead);
  ASSERT_TRUE(pump_until([&] { return first->has_value(); }));
  EXPECT_EQ((*first)->status().code(), base::Code::kUnavailable);
  auto second = call("echo", "x", Duration::seconds(5), dead);
  ASSERT_TRUE(pump_until([&] { return second->has_value(); }));
  EXPECT_EQ((*second)->status().code(), base::Code::kUnavailable);
  EXPECT_EQ(client_->counters().dials, 1u);
}

TEST_F(EndpointTest, APeerFromAnotherCaOrWithAnotherNameIsRefused) {
  Pki pki = make_pki("server.dc1.weft");
  Pki other = make_pki("server.dc1.weft");
  start_server(pki);
  start_client(other);
  auto a = call("echo", "x");
  ASSERT_TRUE(pump_until([&] { return a->has_value(); }));
  EXPECT_EQ((*a)->status().code(), base::Code::kUnavailable);
  EXPECT_EQ(server_->counters().calls_in, 0u);

  start_client(pki, "server.dc2.weft");  // the right CA, but the certificate names dc1
  auto b = call("echo", "x");
  ASSERT_TRUE(pump_until([&] { return b->has_value(); }));
  EXPECT_EQ((*b)->status().code(), base::Code::kUnavailable);
  EXPECT_EQ(server_->counters().calls_in, 0u);

  start_client(pki);  // control: the right CA and name work
  auto c = call("echo", "x");
  ASSERT_TRUE(pump_until([&] { return c->has_value(); }));
  ASSERT_TRUE((*c)->is_ok()) << (*c)->status().to_string();
}

TEST_F(EndpointTest, CallsInFlightFailWhenTheServerGoesAway) {
  Pki pki = make_pki("server.dc1.weft");
  start_server(pki);
  start_client(pki);
  auto slot = call("later", "x");
  ASSERT_TRUE(pump_until([&] { return held_.size() == 1; }));
  held_.clear();
  server_.reset();
  ASSERT_TRUE(pump_until([&] { return slot->has_value(); }));
  EXPECT_EQ((*slot)->status().code(), base::Code::kUnavailable);
}

}  // namespace
