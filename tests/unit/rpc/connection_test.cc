// Proves rpc::Connection's contract over a real mutual-TLS session pumped through memory: calls
// are answered (also out of order, streamed in chunks, or with an error), cancelled calls' late
// answers are dropped, the in-flight bound holds on both sides, and protocol violations -- a
// reused call id, a frame of the wrong direction, an oversized frame -- are connection-fatal.
#include <gtest/gtest.h>

#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "agent/rpc/connection.h"
#include "agent/wire/rpc_frame.h"
#include "hal/tls.h"

namespace {

using base::Code;
using rpc::Connection;
using rpc::Event;
namespace tls = hal::tls;

base::ByteSpan b(std::string_view s) { return base::as_bytes(s); }

struct Pair {
  std::unique_ptr<tls::TlsConfig> server_config;
  std::unique_ptr<tls::TlsConfig> client_config;
  std::unique_ptr<Connection> client;
  std::unique_ptr<Connection> server;
  std::vector<Event> client_events;
  std::vector<Event> server_events;
  base::Status client_status;
  base::Status server_status;

  explicit Pair(rpc::ConnectionLimits limits = {}) {
    const int64_t now = static_cast<int64_t>(std::time(nullptr));
    auto spec = [&](const char* n) {
      return tls::CertSpec{.common_name = n, .not_before_unix_s = now - 60,
                           .not_after_unix_s = now + 3600};
    };
    auto ca = tls::make_ca(spec("test-ca")).value();
    auto s = tls::make_node_cert(ca, spec("server-1.weft")).value();
    auto c = tls::make_node_cert(ca, spec("client-1.weft")).value();
    server_config = tls::TlsConfig::create(tls::Role::kServer, {.ca_pem = ca.cert_pem,
                                                                .cert_pem = s.cert_pem,
                                                                .key_pem = s.key_pem})
                        .value();
    client_config = tls::TlsConfig::create(tls::Role::kClient, {.ca_pem = ca.cert_pem,
                                                                .cert_pem = c.cert_pem,
                                                                .key_pem = c.key_pem})
                        .value();
    client = std::make_unique<Connection>(Connection::client(
        tls::Session::client(*client_config, "server-1.weft").value(), limits));
    server = std::make_unique<Connection>(
        Connection::server(tls::Session::server(*server_config).value(), limits));
    pump();
  }

  // Moves output both ways until quiet (bounded), collecting events and the first errors.
  void pump() {
    for (int round = 0; round < 32; ++round) {
      std::string to_server = client->take_output();
      std::string to_client = server->take_output();
      if (to_server.empty() && to_client.empty()) return;
      if (!to_server.empty() && server_status.is_ok()) {
        server_status = server->on_ciphertext(b(to_server), &server_events);
      }
      if (!to_client.empty() && client_status.is_ok()) {
        client_status = client->on_ciphertext(b(to_client), &client_events);
      }
    }
  }
};

TEST(RpcConnection, CallsAreAnsweredOutOfOrder) {
  Pair p;
  ASSERT_TRUE(p.client->ready() && p.server->ready());
  EXPECT_EQ(p.server->peer_subject(), "CN=client-1.weft");
  auto a = p.client->call("KV.Get", b("a"));
  auto c = p.client->call("KV.Get", b("c"));
  ASSERT_TRUE(a.is_ok() && c.is_ok());
  EXPECT_NE(a.value(), c.value());
  p.pump();
  ASSERT_EQ(p.server_events.size(), 2u);
  EXPECT_EQ(p.server_events[0].kind, Event::Kind::kRequest);
  EXPECT_EQ(p.server_events[0].method, "KV.Get");
  EXPECT_EQ(p.server_events[1].body, "c");
  EXPECT_EQ(p.server->calls_in_flight(), 2u);
  ASSERT_TRUE(p.server->respond(p.server_events[1].call_id, b("value-c")).is_ok());
  ASSERT_TRUE(p.server->respond(p.server_events[0].call_id, b("value-a")).is_ok());
  p.pump();
  ASSERT_EQ(p.client_events.size(), 2u);
  EXPECT_EQ(p.client_events[0].call_id, c.value());
  EXPECT_EQ(p.client_events[0].body, "value-c");
  EXPECT_EQ(p.client_events[1].call_id, a.value());
  EXPECT_EQ(p.client->calls_in_flight(), 0u);
  EXPECT_EQ(p.server->calls_in_flight(), 0u);
}

// Frames wait as plaintext until take_output(), which encrypts them together: eight calls made
// in one loop pass go out as one TLS record (the same bytes as one call's, plus the frames),
// not eight, and arrive as eight requests in order.
TEST(RpcConnection, CallsMadeTogetherAreEncryptedTogether) {
  Pair p;
  ASSERT_TRUE(p.client->ready() && p.server->ready());
  ASSERT_TRUE(p.client->call("KV.Get", b("k0")).is_ok());
  const std::string first = p.client->take_output();
  ASSERT_FALSE(first.empty());
  std::vector<Event> events;
  ASSERT_TRUE(p.server->on_ciphertext(b(first), &events).is_ok());
  ASSERT_EQ(events.size(), 1u);
  events.clear();
  for (int i = 1; i <= 8; ++i) ASSERT_TRUE(p.client->call("KV.Get", b("k" + std::to_string(i))).is_ok());
  EXPECT_TRUE(p.client->has_output());
  std::string eight = p.client->take_output();
  // One record's overhead (header, nonce, tag) is paid once: 8 frames of the same size as the
  // first add 7 frames' bytes to one call's record, where 8 records would add 7 overheads more.
  const size_t frame_bytes = 12 + 6 + 2;  // header, "KV.Get", "kN"
  EXPECT_EQ(eight.size(), first.size() + 7 * frame_bytes);
  ASSERT_TRUE(p.server->on_ciphertext(b(eight), &events).is_ok());
  ASSERT_EQ(events.size(), 8u);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(events[static_cast<size_t>(i)].body, "k" + std::to_string(i + 1));
  EXPECT_FALSE(p.client->has_output());
  EXPECT_TRUE(p.client->take_output().empty());
}

TEST(RpcConnection, StreamedResponsesAndErrors) {
  Pair p;
  auto id = p.client->call("KV.List", b("")).value();
  auto bad = p.client->call("KV.Put", b("x")).value();
  p.pump();
  ASSERT_TRUE(p.server->respond(id, b("one"), /*more=*/true).is_ok());
  ASSERT_TRUE(p.server->respond(id, b("two"), /*more=*/true).is_ok());
  ASSERT_TRUE(p.server->respond(id, b("")).is_ok());
  ASSERT_TRUE(p.server->fail(bad, base::Status(Code::kUnavailable, "no leader")).is_ok());
  EXPECT_EQ(p.server->respond(id, b("late")).code(), Code::kNotFound);
  p.pump();
  ASSERT_EQ(p.client_events.size(), 4u);
  EXPECT_TRUE(p.client_events[0].more);
  EXPECT_EQ(p.client_events[1].body, "two");
  EXPECT_FALSE(p.client_events[2].more);
  EXPECT_EQ(p.client_events[3].kind, Event::Kind::kError);
  EXPECT_EQ(p.client_events[3].error.code(), Code::kUnavailable);
  EXPECT_EQ(p.client_events[3].error.message(), "no leader");
}

TEST(RpcConnection, CancelledCallsLateAnswerIsDropped) {
  Pair p;
  auto id = p.client->call("KV.Get", b("k")).value();
  p.pump();
  ASSERT_TRUE(p.client->cancel(id).is_ok());
  EXPECT_EQ(p.client->calls_in_flight(), 0u);
  p.pump();
  ASSERT_EQ(p.server_events.size(), 2u);
  EXPECT_EQ(p.server_events[1].kind, Event::Kind::kCancel);
  ASSERT_TRUE(p.server->respond(id, b("too late")).is_ok());
  p.pump();
  EXPECT_TRUE(p.client_events.empty());
  EXPECT_EQ(p.client->stale_frames(), 1u);
  EXPECT_TRUE(p.client_status.is_ok());
}

TEST(RpcConnection, ClientInFlightAndBodyBoundsHold) {
  Pair p(rpc::ConnectionLimits{.body_bytes_max = 1024, .calls_in_flight_max = 2});
  ASSERT_TRUE(p.client->call("A", b("")).is_ok());
  ASSERT_TRUE(p.client->call("B", b("")).is_ok());
  EXPECT_EQ(p.client->call("C", b("")).status().code(), Code::kResourceExhausted);
  EXPECT_EQ(p.client->call("D", b(std::string(1025, 'x'))).status().code(),
            Code::kResourceExhausted);
  p.pump();
  EXPECT_EQ(p.server->calls_in_flight(), 2u);
}

// A connection facing a bare TLS session that writes whatever frames a test wants.
struct Raw {
  std::unique_ptr<tls::TlsConfig> server_config;
  std::unique_ptr<tls::TlsConfig> client_config;
  std::unique_ptr<Connection> conn;
  std::unique_ptr<tls::Session> peer;
  std::vector<Event> events;
  base::Status status;
  std::string peer_plain;

  // `conn_is_server`: the Connection is the server and the raw peer the client, or vice versa.
  Raw(bool conn_is_server, rpc::ConnectionLimits limits) {
    const int64_t now = static_cast<int64_t>(std::time(nullptr));
    auto spec = [&](const char* n) {
      return tls::CertSpec{.common_name = n, .not_before_unix_s = now - 60,
                           .not_after_unix_s = now + 3600};
    };
    auto ca = tls::make_ca(spec("test-ca")).value();
    auto s = tls::make_node_cert(ca, spec("server-1.weft")).value();
    auto c = tls::make_node_cert(ca, spec("client-1.weft")).value();
    server_config = tls::TlsConfig::create(tls::Role::kServer, {.ca_pem = ca.cert_pem,
                                                                .cert_pem = s.cert_pem,
                                                                .key_pem = s.key_pem})
                        .value();
    client_config = tls::TlsConfig::create(tls::Role::kClient, {.ca_pem = ca.cert_pem,
                                                                .cert_pem = c.cert_pem,
                                                                .key_pem = c.key_pem})
                        .value();
    auto cs = tls::Session::client(*client_config, "server-1.weft").value();
    auto ss = tls::Session::server(*server_config).value();
    if (conn_is_server) {
      conn = std::make_unique<Connection>(Connection::server(std::move(ss), limits));
      peer = std::make_unique<tls::Session>(std::move(cs));
    } else {
      conn = std::make_unique<Connection>(Connection::client(std::move(cs), limits));
      peer = std::make_unique<tls::Session>(std::move(ss));
    }
    pump();
  }
  void pump() {
    for (int round = 0; round < 32; ++round) {
      std::string to_conn = peer->take_ciphertext();
      std::string to_peer = conn->take_output();
      if (to_conn.empty() && to_peer.empty()) return;
      if (!to_conn.empty() && status.is_ok()) status = conn->on_ciphertext(b(to_conn), &events);
      if (!to_peer.empty()) {
        EXPECT_TRUE(peer->on_ciphertext(b(to_peer)).is_ok());
        peer_plain += peer->take_plaintext();
      }
    }
  }
  void send(wire::RpcFrameType type, uint32_t id, std::string method, std::string body,
            size_t body_max = wire::kRpcBodyBytesDefault) {
    std::string bytes;
    ASSERT_TRUE(wire::append_rpc_frame({.type = type, .flags = 0, .call_id = id,
                                        .method = std::move(method), .body = std::move(body)},
                                       body_max, &bytes)
                    .is_ok());
    ASSERT_TRUE(peer->write_plaintext(b(bytes)).is_ok());
    pump();
  }
};

TEST(RpcConnection, ServerRefusesCallsBeyondItsBoundWithoutClosing) {
  Raw r(/*conn_is_server=*/true, {.body_bytes_max = 1024, .calls_in_flight_max = 2});
  ASSERT_TRUE(r.conn->ready());
  r.send(wire::RpcFrameType::kRequest, 1, "A", "");
  r.send(wire::RpcFrameType::kRequest, 2, "B", "");
  r.send(wire::RpcFrameType::kRequest, 3, "C", "");
  EXPECT_TRUE(r.status.is_ok());
  EXPECT_EQ(r.events.size(), 2u);
  EXPECT_EQ(r.conn->calls_in_flight(), 2u);
  wire::RpcFrameDecoder d;
  auto used = d.feed(b(r.peer_plain));
  ASSERT_TRUE(used.is_ok() && d.has_frame());
  wire::RpcFrame refusal = d.take_frame();
  EXPECT_EQ(refusal.type, wire::RpcFrameType::kError);
  EXPECT_EQ(refusal.call_id, 3u);
  EXPECT_EQ(wire::decode_rpc_error_body(refusal.body).code(), Code::kResourceExhausted);
}

TEST(RpcConnection, ReusedCallIdIsFatal) {
  Raw r(/*conn_is_server=*/true, {});
  r.send(wire::RpcFrameType::kRequest, 7, "A", "");
  r.send(wire::RpcFrameType::kRequest, 7, "A", "");
  EXPECT_EQ(r.status.code(), Code::kInvalidArgument);
  EXPECT_TRUE(r.conn->failed());
  EXPECT_EQ(r.conn->respond(7, b("")).code(), Code::kInvalidArgument);  // sticky
}

TEST(RpcConnection, ResponseToAServerIsFatal) {
  Raw r(/*conn_is_server=*/true, {});
  r.send(wire::RpcFrameType::kResponse, 1, "", "x");
  EXPECT_EQ(r.status.code(), Code::kInvalidArgument);
}

TEST(RpcConnection, RequestToAClientIsFatal) {
  Raw r(/*conn_is_server=*/false, {});
  r.send(wire::RpcFrameType::kRequest, 1, "Sneaky.Call", "");
  EXPECT_EQ(r.status.code(), Code::kInvalidArgument);
  EXPECT_EQ(r.conn->call("KV.Get", b("")).status().code(), Code::kInvalidArgument);
}

TEST(RpcConnection, OversizedFrameFromThePeerIsFatal) {
  Raw r(/*conn_is_server=*/false, {.body_bytes_max = 64, .calls_in_flight_max = 8});
  auto id = r.conn->call("KV.Get", b("k")).value();
  r.pump();
  r.send(wire::RpcFrameType::kResponse, id, "", std::string(65, 'v'), 1024);
  EXPECT_EQ(r.status.code(), Code::kResourceExhausted);
  EXPECT_TRUE(r.conn->failed());
}

TEST(RpcConnection, WrongDirectionCallsAreRefusedLocally) {
  Pair p;
  EXPECT_EQ(p.server->call("X", b("")).status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(p.client->respond(1, b("")).code(), Code::kNotFound);
}

TEST(RpcConnection, OversizedAnswerIsRefusedLocallyAndTheCallStaysOpen) {
  Pair p(rpc::ConnectionLimits{.body_bytes_max = 64, .calls_in_flight_max = 8});
  auto id = p.client->call("KV.Get", b("k")).value();
  p.pump();
  EXPECT_EQ(p.server->respond(id, b(std::string(65, 'v'))).code(), Code::kResourceExhausted);
  EXPECT_EQ(p.server->calls_in_flight(), 1u);
  ASSERT_TRUE(p.server->fail(id, base::Status(Code::kResourceExhausted, "too big")).is_ok());
  p.pump();
  ASSERT_EQ(p.client_events.size(), 1u);
  EXPECT_EQ(p.client_events[0].error.code(), Code::kResourceExhausted);
}

TEST(RpcConnection, CallBeforeHandshakeIsRefused) {
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  auto ca = tls::make_ca({.common_name = "ca", .not_before_unix_s = now - 60,
                          .not_after_unix_s = now + 60}).value();
  auto c = tls::make_node_cert(ca, {.common_name = "c", .not_before_unix_s = now - 60,
                                    .not_after_unix_s = now + 60}).value();
  auto cfg = tls::TlsConfig::create(tls::Role::kClient, {.ca_pem = ca.cert_pem,
                                                          .cert_pem = c.cert_pem,
                                                          .key_pem = c.key_pem}).value();
  Connection conn = Connection::client(tls::Session::client(*cfg, "s").value());
  EXPECT_EQ(conn.call("KV.Get", b("")).status().code(), Code::kFailedPrecondition);
  EXPECT_TRUE(conn.has_output());  // the ClientHello
}

}  // namespace
