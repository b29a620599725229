// dns::Server over real loopback sockets. UDP: answers from the view, REFUSED with the question
// for other names, FORMERR for a malformed query, short datagrams and responses dropped and
// counted, and the server still answering after all of them. TCP (RFC 7766) on the same port:
// framed answers, pipelined queries answered in order, a query split across segments, a bad
// length closing the connection, the connection cap, the idle timeout.
#include "agent/dns/server/server.h"

#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <vector>

#include "hal/posix/posix_env.h"
#include "tests/unit/dns/dns_test_util.h"

namespace dns {
namespace {

using base::Duration;

class DnsServerTest : public ::testing::Test {
 protected:
  DnsServerTest() : loop_(env_.clock(), env_.poller()) {
    node_.name = "n1";
    node_.address.bytes[0] = 10;
    node_.address.bytes[3] = 1;
    start(options());
    client_ = env_.net().udp_open(hal::SockAddr::ipv4(127, 0, 0, 1, 0)).value();
  }
  ~DnsServerTest() override {
    for (hal::Handle h : tcp_clients_) env_.net().close(h);
    env_.net().close(client_);
    server_.reset();
  }

  static ServerOptions options() {
    ServerOptions o;
    o.bind = hal::SockAddr::ipv4(127, 0, 0, 1, 0);
    o.responder.domain = test::name("weft");
    return o;
  }
  void start(const ServerOptions& o) {
    server_.reset();
    server_ = std::make_unique<Server>(loop_, env_.net(), o, [this] { return View{{}, std::span(&node_, 1)}; });
    ASSERT_TRUE(server_->start().is_ok());
    addr_ = server_->local_addr().value();
  }

  // A connected TCP client to the server's port (the loop runs while it connects).
  hal::Handle tcp_connect() {
    hal::Handle h = env_.net().connect(addr_).value();
    tcp_clients_.push_back(h);
    const base::MonoTime deadline = loop_.refresh_now() + Duration::seconds(5);
    while (loop_.refresh_now() < deadline) {
      EXPECT_TRUE(loop_.run_once(Duration::millis(5)).is_ok());
      if (env_.net().connect_result(h).is_ok()) return h;
    }
    ADD_FAILURE() << "no TCP connection within 5 s";
    return h;
  }
  void tcp_send(hal::Handle h, const std::vector<uint8_t>& bytes) {
    size_t at = 0;
    const base::MonoTime deadline = loop_.refresh_now() + Duration::seconds(5);
    while (at < bytes.size() && loop_.refresh_now() < deadline) {
      auto n = env_.net().write(h, base::ByteSpan(bytes.data() + at, bytes.size() - at));
      if (n.is_ok()) at += *n;
      EXPECT_TRUE(loop_.run_once(Duration::millis(1)).is_ok());
    }
    EXPECT_EQ(at, bytes.size());
  }
  static std::vector<uint8_t> framed(const std::vector<uint8_t>& m) {
    std::vector<uint8_t> out = {static_cast<uint8_t>(m.size() >> 8), static_cast<uint8_t>(m.size())};
    out.insert(out.end(), m.begin(), m.end());
    return out;
  }
  // Runs the loop and reads `h` until `count` framed messages arrived (returned), the peer
  // closed (`*closed` set), or `within` passed.
  std::vector<std::vector<uint8_t>> tcp_read(hal::Handle h, size_t count, bool* closed = nullptr,
                                             Duration within = Duration::seconds(5)) {
    std::vector<std::vector<uint8_t>> got;
    std::vector<uint8_t> buf;
    if (closed != nullptr) *closed = false;
    const base::MonoTime deadline = loop_.refresh_now() + within;
    while (got.size() < count && loop_.refresh_now() < deadline) {
      EXPECT_TRUE(loop_.run_once(Duration::millis(5)).is_ok());
      uint8_t chunk[4096];
      auto n = env_.net().read(h, chunk);
      if (n.is_ok() && *n == 0) {
        if (closed != nullptr) *closed = true;
        break;
      }
      if (n.is_ok()) buf.insert(buf.end(), chunk, chunk + *n);
      while (buf.size() >= 2 && buf.size() >= 2u + ((size_t{buf[0]} << 8) | buf[1])) {
        const size_t len = (size_t{buf[0]} << 8) | buf[1];
        got.emplace_back(buf.begin() + 2, buf.begin() + 2 + static_cast<long>(len));
        buf.erase(buf.begin(), buf.begin() + 2 + static_cast<long>(len));
      }
    }
    return got;
  }

  // Sends `q` and runs the loop until an answer arrives (or 5 s pass, or `expect_none`: until the
  // server counted the datagram).
  std::optional<std::vector<uint8_t>> exchange(const std::vector<uint8_t>& q, bool expect_none = false) {
    const uint64_t before = server_->counters().received;
    EXPECT_TRUE(env_.net().udp_send(client_, addr_, q).is_ok());
    const base::MonoTime deadline = loop_.refresh_now() + Duration::seconds(5);
    std::vector<uint8_t> buf(4096);
    while (loop_.refresh_now() < deadline) {
      EXPECT_TRUE(loop_.run_once(Duration::millis(5)).is_ok());
      if (expect_none && server_->counters().received > before) return std::nullopt;
      hal::SockAddr from;
      auto n = env_.net().udp_recv(client_, buf, &from);
      if (n.is_ok()) {
        buf.resize(*n);
        return buf;
      }
    }
    ADD_FAILURE() << "no answer within 5 s";
    return std::nullopt;
  }

  hal::posix::PosixEnv env_;
  runtime::Loop loop_;
  NodeEntry node_;
  std::unique_ptr<Server> server_;
  hal::SockAddr addr_;
  hal::Handle client_ = hal::kInvalidHandle;
  std::vector<hal::Handle> tcp_clients_;
};

TEST_F(DnsServerTest, AnswersRefusesAndRejects) {
  auto a = exchange(test::query_bytes("n1.node.weft", kTypeA));
  ASSERT_TRUE(a.has_value());
  test::Parsed p = test::parse(*a);
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.id, 0x4242);
  ASSERT_EQ(p.counts[1], 1);
  EXPECT_EQ(p.rrs[0].rdata, (std::vector<uint8_t>{10, 0, 0, 1}));

  a = exchange(test::query_bytes("example.org", kTypeA));
  ASSERT_TRUE(a.has_value());
  p = test::parse(*a);
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.flags & 0xF, kRcodeRefused);
  EXPECT_EQ(p.qname, "example.org.");

  std::vector<uint8_t> bad = test::query_bytes("n1.node.weft", kTypeA);
  bad[12] = 0x50;  // a label type 0x40: not allowed
  a = exchange(bad);
  ASSERT_TRUE(a.has_value());
  p = test::parse(*a);
  EXPECT_EQ(p.flags & 0xF, kRcodeFormErr);
  EXPECT_EQ(server_->counters().formerr, 1u);

  EXPECT_FALSE(exchange({1, 2, 3}, true).has_value());
  EXPECT_FALSE(exchange(test::query_bytes("n1.node.weft", kTypeA, -1, 0, kFlagQr), true).has_value());
  EXPECT_EQ(server_->counters().dropped_short, 1u);
  EXPECT_EQ(server_->counters().dropped_response, 1u);

  a = exchange(test::query_bytes("n2.node.weft", kTypeA));  // still answering: NXDOMAIN
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(test::parse(*a).flags & 0xF, kRcodeNxDomain);
  EXPECT_EQ(server_->counters().answered, 2u);
  EXPECT_EQ(server_->counters().refused, 1u);
}

TEST_F(DnsServerTest, TcpAnswersFramedAndPipelinedInOrder) {
  hal::Handle h = tcp_connect();
  // Two queries in one write, then a third one byte at a time.
  std::vector<uint8_t> two = framed(test::query_bytes("n1.node.weft", kTypeA));
  std::vector<uint8_t> second = framed(test::query_bytes("example.org", kTypeA));
  two.insert(two.end(), second.begin(), second.end());
  tcp_send(h, two);
  auto got = tcp_read(h, 2);
  ASSERT_EQ(got.size(), 2u);
  test::Parsed p = test::parse(got[0]);
  ASSERT_TRUE(p.ok);
  ASSERT_EQ(p.counts[1], 1);
  EXPECT_EQ(p.rrs[0].rdata, (std::vector<uint8_t>{10, 0, 0, 1}));
  EXPECT_EQ(test::parse(got[1]).flags & 0xF, kRcodeRefused);
  for (uint8_t b : framed(test::query_bytes("n2.node.weft", kTypeA))) tcp_send(h, {b});
  got = tcp_read(h, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(test::parse(got[0]).flags & 0xF, kRcodeNxDomain);
  EXPECT_EQ(server_->counters().tcp_accepted, 1u);
  EXPECT_EQ(server_->counters().tcp_open, 1u);
  // UDP on the same port still answers.
  ASSERT_TRUE(exchange(test::query_bytes("n1.node.weft", kTypeA)).has_value());
}

TEST_F(DnsServerTest, TcpBadLengthClosesTheConnection) {
  for (uint16_t len : {uint16_t{5}, uint16_t{kQueryBytesMax + 1}}) {
    hal::Handle h = tcp_connect();
    // A good query first: answered; then the bad length: closed.
    std::vector<uint8_t> bytes = framed(test::query_bytes("n1.node.weft", kTypeA));
    bytes.insert(bytes.end(), {static_cast<uint8_t>(len >> 8), static_cast<uint8_t>(len), 0, 0, 0, 0, 0});
    tcp_send(h, bytes);
    bool closed = false;
    auto got = tcp_read(h, 2, &closed);
    EXPECT_EQ(got.size(), 1u) << len;
    EXPECT_TRUE(closed) << len;
  }
  EXPECT_EQ(server_->counters().tcp_bad_length, 2u);
  EXPECT_EQ(server_->counters().tcp_open, 0u);
}

TEST_F(DnsServerTest, TcpConnectionCapAndIdleTimeout) {
  ServerOptions o = options();
  o.tcp_connections_max = 1;
  o.tcp_idle_timeout = Duration::seconds(1);
  start(o);
  hal::Handle first = tcp_connect();
  tcp_send(first, framed(test::query_bytes("n1.node.weft", kTypeA)));
  ASSERT_EQ(tcp_read(first, 1).size(), 1u);
  // Over the cap: closed at once, counted; the first still served.
  hal::Handle second = tcp_connect();
  bool closed = false;
  EXPECT_TRUE(tcp_read(second, 1, &closed).empty());
  EXPECT_TRUE(closed);
  EXPECT_EQ(server_->counters().tcp_refused, 1u);
  // The first, now idle, is closed after the timeout (1 s; the sweep runs each second).
  const base::MonoTime t0 = loop_.refresh_now();
  EXPECT_TRUE(tcp_read(first, 1, &closed, Duration::seconds(5)).empty());
  EXPECT_TRUE(closed);
  EXPECT_GE((loop_.refresh_now() - t0).ms(), 500);
  EXPECT_EQ(server_->counters().tcp_idle_closed, 1u);
  EXPECT_EQ(server_->counters().tcp_open, 0u);
  // Room again: a new connection is served.
  hal::Handle third = tcp_connect();
  tcp_send(third, framed(test::query_bytes("n1.node.weft", kTypeA)));
  EXPECT_EQ(tcp_read(third, 1).size(), 1u);
}

// Back-pressure: a client that sends 150,000 pipelined queries without reading fills the
// server's socket, and the server stops reading it (counted); once the client reads, every query
// is answered, in order (the held-back ones resume as the pending answers drain).
TEST_F(DnsServerTest, TcpBackPressureLosesNoQuery) {
  ServerOptions o = options();
  o.tcp_pending_bytes_max = 1;
  start(o);
  hal::Handle h = tcp_connect();
  constexpr size_t kQueries = 150000;
  std::vector<uint8_t> many;
  for (size_t i = 0; i < kQueries; ++i) {
    std::vector<uint8_t> q = test::query_bytes(i % 2 == 0 ? "n1.node.weft" : "n2.node.weft", kTypeA);
    q[0] = static_cast<uint8_t>(i >> 8);
    q[1] = static_cast<uint8_t>(i);
    std::vector<uint8_t> f = framed(q);
    many.insert(many.end(), f.begin(), f.end());
  }
  // Write without reading until neither the client's writes nor the server's answers progress
  // for 200 ms and 100 passes of the loop: the socket buffers are full both ways. (Both: on a
  // loaded machine this process can be descheduled for 200 ms between two passes.)
  size_t at = 0;
  uint64_t answered = 0;
  base::MonoTime last_progress = loop_.refresh_now();
  int idle_passes = 0;
  const base::MonoTime deadline = last_progress + Duration::seconds(20);
  while ((loop_.refresh_now() - last_progress < Duration::millis(200) || idle_passes < 100) && loop_.now() < deadline) {
    ++idle_passes;
    if (at < many.size()) {
      auto n = env_.net().write(h, base::ByteSpan(many.data() + at, many.size() - at));
      if (n.is_ok() && *n > 0) {
        at += *n;
        last_progress = loop_.now();
        idle_passes = 0;
      }
    }
    ASSERT_TRUE(loop_.run_once(Duration::millis(1)).is_ok());
    if (server_->counters().answered != answered) {
      answered = server_->counters().answered;
      last_progress = loop_.now();
      idle_passes = 0;
    }
  }
  EXPECT_LT(server_->counters().answered, kQueries);
  EXPECT_GE(server_->counters().tcp_paused, 1u) << "written " << at << " of " << many.size() << ", answered " << server_->counters().answered << ", open " << server_->counters().tcp_open;
  // Now read and write together until every answer is in.
  std::vector<uint8_t> buf;
  size_t answers = 0;
  bool in_order = true;
  while (answers < kQueries && loop_.refresh_now() < deadline) {
    if (at < many.size()) {
      auto n = env_.net().write(h, base::ByteSpan(many.data() + at, many.size() - at));
      if (n.is_ok()) at += *n;
    }
    ASSERT_TRUE(loop_.run_once(Duration::millis(1)).is_ok());
    uint8_t chunk[65536];
    auto n = env_.net().read(h, chunk);
    if (n.is_ok() && *n == 0) break;
    if (n.is_ok()) buf.insert(buf.end(), chunk, chunk + *n);
    size_t used = 0;
    while (buf.size() - used >= 2 && buf.size() - used >= 2u + ((size_t{buf[used]} << 8) | buf[used + 1])) {
      const size_t len = (size_t{buf[used]} << 8) | buf[used + 1];
      const uint16_t id = static_cast<uint16_t>((buf[used + 2] << 8) | buf[used + 3]);
      in_order = in_order && id == static_cast<uint16_t>(answers);
      ++answers;
      used += 2 + len;
    }
    buf.erase(buf.begin(), buf.begin() + static_cast<long>(used));
  }
  EXPECT_EQ(answers, kQueries);
  EXPECT_TRUE(in_order);
  EXPECT_EQ(server_->counters().answered, kQueries);
}

TEST_F(DnsServerTest, TcpOffListensOnlyUdp) {
  ServerOptions o = options();
  o.tcp = false;
  start(o);
  ASSERT_TRUE(exchange(test::query_bytes("n1.node.weft", kTypeA)).has_value());
  hal::Handle h = env_.net().connect(addr_).value();
  tcp_clients_.push_back(h);
  // Refused: connect_result reports it once the loop saw the handle writable (or an error).
  const base::MonoTime deadline = loop_.refresh_now() + Duration::seconds(5);
  base::Status st = base::Status::ok();
  while (loop_.refresh_now() < deadline) {
    EXPECT_TRUE(loop_.run_once(Duration::millis(5)).is_ok());
    st = env_.net().connect_result(h);
    if (!st.is_ok() && st.code() != base::Code::kUnavailable) break;
  }
  EXPECT_FALSE(st.is_ok());
}

}  // namespace
}  // namespace dns
