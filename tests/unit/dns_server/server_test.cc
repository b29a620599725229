// dns::Server over real loopback sockets. UDP: answers from the view, REFUSED with the question
// for other names, FORMERR for a malformed query, short datagrams and responses dropped and
// counted, and the server still answering after all of them. TCP (RFC 7766) on the same port:
// framed answers, pipelined queries answered in order, a query split across segments, a bad
// length closing the connection, the connection cap, the idle timeout. Forwarding, against fake
// upstreams that are real loopback UDP sockets in the test: an accepted reply, replies refused for
// their source, ID, QR bit or question, a timeout then the second recursor then SERVFAIL, a full
// table, a client outside the recursion networks, truncation for a UDP client, and a TCP client.
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
    server_.reset();
    for (hal::Handle h : upstreams_) env_.net().close(h);
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

  // --- Forwarding helpers ---

  // A fake upstream: a UDP socket on loopback, read by the test.
  hal::Handle upstream(hal::SockAddr* addr) {
    hal::Handle h = env_.net().udp_open(hal::SockAddr::ipv4(127, 0, 0, 1, 0)).value();
    upstreams_.push_back(h);
    *addr = env_.net().local_addr(h).value();
    return h;
  }
  ServerOptions forwarding(std::vector<hal::SockAddr> recursors, const char* network = "127.0.0.0/8") {
    ServerOptions o = options();
    o.recursors = std::move(recursors);
    o.recursion_networks = {hal::IpNetwork::parse(network).value()};
    o.recursor_timeout = Duration::millis(300);
    o.entropy = env_.env().entropy;
    return o;
  }
  // Runs the loop until `h` has a datagram (returned, its sender in *from) or `within` passes.
  std::optional<std::vector<uint8_t>> recv_on(hal::Handle h, hal::SockAddr* from, Duration within = Duration::seconds(5)) {
    std::vector<uint8_t> buf(65536);
    const base::MonoTime deadline = loop_.refresh_now() + within;
    while (true) {
      auto n = env_.net().udp_recv(h, buf, from);
      if (n.is_ok()) {
        buf.resize(*n);
        return buf;
      }
      if (loop_.refresh_now() >= deadline) return std::nullopt;
      EXPECT_TRUE(loop_.run_once(Duration::millis(2)).is_ok());
    }
  }
  // Runs the loop until `done()` or `within` passes; returns done().
  bool run_until(const std::function<bool()>& done, Duration within = Duration::seconds(5)) {
    const base::MonoTime deadline = loop_.refresh_now() + within;
    while (!done() && loop_.refresh_now() < deadline) EXPECT_TRUE(loop_.run_once(Duration::millis(2)).is_ok());
    return done();
  }
  // Sends a query for `dotted` with ID `id` from the UDP client.
  void ask(std::string_view dotted, uint16_t id, uint16_t type = kTypeA, int edns_size = -1) {
    std::vector<uint8_t> q = test::query_bytes(dotted, type, edns_size);
    q[0] = static_cast<uint8_t>(id >> 8);
    q[1] = static_cast<uint8_t>(id);
    ASSERT_TRUE(env_.net().udp_send(client_, addr_, q).is_ok());
  }
  // The upstream's reply to `query` as it arrived: QR, RD echoed, RA; the question as sent; then
  // `answers` A records 192.0.2.7 (their owner a pointer to the question); no OPT.
  static std::vector<uint8_t> reply_to(const std::vector<uint8_t>& query, size_t answers = 1) {
    Name n;
    size_t at = 0;
    EXPECT_EQ(read_name(query, kHeaderBytes, &n, &at), DecodeError::kNone);
    std::vector<uint8_t> r(query.begin(), query.begin() + static_cast<long>(at + 4));
    r[2] = static_cast<uint8_t>(0x80 | (query[2] & 0x01));
    r[3] = 0x80;
    r[6] = static_cast<uint8_t>(answers >> 8);
    r[7] = static_cast<uint8_t>(answers);
    r[8] = r[9] = r[10] = r[11] = 0;
    for (size_t i = 0; i < answers; ++i) r.insert(r.end(), {0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7});
    return r;
  }
  // Whether the UDP client has a datagram waiting (without running the loop).
  bool client_has_datagram() {
    std::vector<uint8_t> buf(65536);
    hal::SockAddr from;
    return env_.net().udp_recv(client_, buf, &from).is_ok();
  }

  hal::posix::PosixEnv env_;
  runtime::Loop loop_;
  NodeEntry node_;
  std::unique_ptr<Server> server_;
  hal::SockAddr addr_;
  hal::Handle client_ = hal::kInvalidHandle;
  std::vector<hal::Handle> tcp_clients_;
  std::vector<hal::Handle> upstreams_;
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

// A name outside the domain from an allowed client goes to the recursor rebuilt (a fresh ID, RD,
// no OPT when the client sent none); replies from another address, with another ID, without QR,
// or for another name or type are dropped and counted while the query keeps waiting; the real
// reply (its name in another case) reaches the client with the client's ID and RA.
TEST_F(DnsServerTest, ForwardsAndAcceptsOnlyTheMatchingReply) {
  hal::SockAddr up_addr, other_addr;
  hal::Handle up = upstream(&up_addr);
  hal::Handle other = upstream(&other_addr);
  start(forwarding({up_addr}));
  ask("www.example.org", 0x1234);
  hal::SockAddr server_side;
  auto got = recv_on(up, &server_side);
  ASSERT_TRUE(got.has_value());
  const std::vector<uint8_t> query = *got;
  test::Parsed p = test::parse(query);
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.qname, "www.example.org.");
  EXPECT_EQ(p.flags, kFlagRd);
  EXPECT_EQ(p.counts[3], 0);  // no OPT: the client sent none
  EXPECT_EQ(server_->counters().forwarded, 1u);
  EXPECT_EQ(server_->counters().forwards_pending, 1u);

  std::vector<std::vector<uint8_t>> forged;
  std::vector<uint8_t> r = reply_to(query);
  r[1] ^= 1;  // another ID
  forged.push_back(r);
  r = reply_to(query);
  r[2] &= 0x7F;  // QR clear: a query, not a reply
  forged.push_back(r);
  r = reply_to(query);
  r[13] = 'x';  // "xww.example.org"
  forged.push_back(r);
  r = reply_to(query);
  r[kHeaderBytes + 17 + 1] = kTypeAaaa;  // AAAA instead of A
  forged.push_back(r);
  uint64_t dropped = 0;
  // From another address first, with everything else right.
  ASSERT_TRUE(env_.net().udp_send(other, server_side, reply_to(query)).is_ok());
  EXPECT_TRUE(run_until([&] { return server_->counters().forward_dropped == dropped + 1; }));
  ++dropped;
  for (const std::vector<uint8_t>& f : forged) {
    ASSERT_TRUE(env_.net().udp_send(up, server_side, f).is_ok());
    EXPECT_TRUE(run_until([&] { return server_->counters().forward_dropped == dropped + 1; })) << dropped;
    ++dropped;
  }
  EXPECT_FALSE(client_has_datagram());
  EXPECT_EQ(server_->counters().forwards_pending, 1u);

  r = reply_to(query);
  r[12 + 1] = 'W';  // "Www.example.org": names match case-insensitively
  ASSERT_TRUE(env_.net().udp_send(up, server_side, r).is_ok());
  hal::SockAddr from;
  got = recv_on(client_, &from);
  ASSERT_TRUE(got.has_value());
  p = test::parse(*got);
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.id, 0x1234);
  EXPECT_EQ(p.flags & (kFlagQr | kFlagRa | 0xF), kFlagQr | kFlagRa | kRcodeNoError);
  ASSERT_EQ(p.counts[1], 1);
  EXPECT_EQ(p.rrs[0].rdata, (std::vector<uint8_t>{192, 0, 2, 7}));
  EXPECT_EQ(server_->counters().forward_replies, 1u);
  EXPECT_EQ(server_->counters().forward_dropped, 5u);
  EXPECT_EQ(server_->counters().forwards_pending, 0u);
  // A duplicate of the accepted reply is dropped too: its ID is no longer pending.
  ASSERT_TRUE(env_.net().udp_send(up, server_side, reply_to(query)).is_ok());
  EXPECT_TRUE(run_until([&] { return server_->counters().forward_dropped == 6; }));
  // Local names are still answered locally, with RA: this client may recurse.
  auto a = exchange(test::query_bytes("n1.node.weft", kTypeA));
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(test::parse(*a).flags & (kFlagRa | 0xF), kFlagRa | kRcodeNoError);
  EXPECT_EQ(server_->counters().forwarded, 1u);
}

// No reply within recursor_timeout: the query goes once to the next recursor (with a new ID, so a
// late reply to the first attempt is dropped), whose answer is passed on; when the second attempt
// times out too, the client gets SERVFAIL with its question after about twice the timeout.
TEST_F(DnsServerTest, ForwardTimeoutTriesTheNextRecursorThenServfail) {
  hal::SockAddr a1, a2;
  hal::Handle u1 = upstream(&a1);
  hal::Handle u2 = upstream(&a2);
  start(forwarding({a1, a2}));
  const base::MonoTime asked = loop_.refresh_now();
  ask("slow.example.org", 7);
  hal::SockAddr server_side;
  auto q1 = recv_on(u1, &server_side);
  ASSERT_TRUE(q1.has_value());
  auto q2 = recv_on(u2, &server_side);
  ASSERT_TRUE(q2.has_value());
  EXPECT_GE((loop_.refresh_now() - asked).ms(), 300);
  EXPECT_EQ(server_->counters().forward_timeouts, 1u);
  EXPECT_NE(test::be16(*q1, 0), test::be16(*q2, 0));
  // The first recursor wakes up late: dropped (wrong source for the new ID, stale ID anyway).
  ASSERT_TRUE(env_.net().udp_send(u1, server_side, reply_to(*q1)).is_ok());
  EXPECT_TRUE(run_until([&] { return server_->counters().forward_dropped == 1; }));
  ASSERT_TRUE(env_.net().udp_send(u2, server_side, reply_to(*q2)).is_ok());
  hal::SockAddr from;
  auto got = recv_on(client_, &from);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(test::parse(*got).id, 7);
  EXPECT_EQ(test::parse(*got).counts[1], 1);

  // Neither answers: SERVFAIL after both attempts.
  const base::MonoTime t0 = loop_.refresh_now();
  ask("dead.example.org", 8);
  ASSERT_TRUE(recv_on(u1, &server_side).has_value());
  ASSERT_TRUE(recv_on(u2, &server_side).has_value());
  got = recv_on(client_, &from);
  ASSERT_TRUE(got.has_value());
  const int64_t took_ms = (loop_.refresh_now() - t0).ms();
  EXPECT_GE(took_ms, 600);
  EXPECT_LT(took_ms, 3000);
  test::Parsed p = test::parse(*got);
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.id, 8);
  EXPECT_EQ(p.flags & 0xF, kRcodeServFail);
  EXPECT_EQ(p.qname, "dead.example.org.");
  EXPECT_EQ(server_->counters().forward_timeouts, 3u);
  EXPECT_EQ(server_->counters().forward_servfail, 1u);
  EXPECT_EQ(server_->counters().forwarded, 2u);
  EXPECT_EQ(server_->counters().forwards_pending, 0u);
}

// With forwards_max waiting, one more query gets SERVFAIL at once (counted) and is not sent; once
// the upstream answers, the rows are free again.
TEST_F(DnsServerTest, ForwardTableFullAnswersServfail) {
  hal::SockAddr a;
  hal::Handle u = upstream(&a);
  ServerOptions o = forwarding({a});
  o.forwards_max = 2;
  o.recursor_timeout = Duration::seconds(5);
  start(o);
  hal::SockAddr server_side, from;
  ask("a.example.org", 1);
  ask("b.example.org", 2);
  auto qa = recv_on(u, &server_side);
  auto qb = recv_on(u, &server_side);
  ASSERT_TRUE(qa.has_value() && qb.has_value());
  ask("c.example.org", 3);
  auto got = recv_on(client_, &from);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(test::parse(*got).id, 3);
  EXPECT_EQ(test::parse(*got).flags & 0xF, kRcodeServFail);
  EXPECT_EQ(server_->counters().forward_table_full, 1u);
  EXPECT_EQ(server_->counters().forwarded, 2u);
  ASSERT_TRUE(env_.net().udp_send(u, server_side, reply_to(*qb)).is_ok());
  ASSERT_TRUE(env_.net().udp_send(u, server_side, reply_to(*qa)).is_ok());
  got = recv_on(client_, &from);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(test::parse(*got).id, 2);
  got = recv_on(client_, &from);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(test::parse(*got).id, 1);
  ask("d.example.org", 4);
  auto qd = recv_on(u, &server_side);
  ASSERT_TRUE(qd.has_value());
  EXPECT_EQ(server_->counters().forwarded, 3u);
}

// start() refuses recursors it cannot use: this server itself, more than kRecursorsMax, or no
// entropy source for the IDs.
TEST_F(DnsServerTest, StartRefusesUnusableRecursors) {
  const hal::SockAddr self = addr_;
  server_.reset();
  ServerOptions o = forwarding({self});
  o.bind = self;
  Server s(loop_, env_.net(), o, [this] { return View{{}, std::span(&node_, 1)}; });
  base::Status st = s.start();
  EXPECT_EQ(st.code(), base::Code::kInvalidArgument) << st.message();
  EXPECT_NE(st.message().find("is this DNS server"), std::string::npos) << st.message();
  o = forwarding(std::vector<hal::SockAddr>(kRecursorsMax + 1, hal::SockAddr::ipv4(127, 0, 0, 1, 53)));
  EXPECT_EQ(Server(loop_, env_.net(), o, [] { return View{}; }).start().code(), base::Code::kInvalidArgument);
  o = forwarding({hal::SockAddr::ipv4(127, 0, 0, 1, 53)});
  o.entropy = nullptr;
  EXPECT_EQ(Server(loop_, env_.net(), o, [] { return View{}; }).start().code(), base::Code::kInvalidArgument);
}

// A client outside the recursion networks gets REFUSED for a name outside the domain (counted as
// recursion_refused, nothing sent upstream), and local answers without RA.
TEST_F(DnsServerTest, ClientOutsideRecursionNetworksIsRefused) {
  hal::SockAddr a;
  hal::Handle u = upstream(&a);
  start(forwarding({a}, "10.0.0.0/8"));
  auto got = exchange(test::query_bytes("www.example.org", kTypeA));
  ASSERT_TRUE(got.has_value());
  test::Parsed p = test::parse(*got);
  EXPECT_EQ(p.flags & (kFlagRa | 0xF), kRcodeRefused);
  EXPECT_EQ(p.qname, "www.example.org.");
  EXPECT_EQ(server_->counters().recursion_refused, 1u);
  EXPECT_EQ(server_->counters().refused, 1u);
  EXPECT_EQ(server_->counters().forwarded, 0u);
  hal::SockAddr from;
  std::vector<uint8_t> buf(512);
  EXPECT_FALSE(env_.net().udp_recv(u, buf, &from).is_ok());
  got = exchange(test::query_bytes("n1.node.weft", kTypeA));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(test::parse(*got).flags & (kFlagRa | 0xF), kRcodeNoError);
}

// A reply larger than the UDP client's limit goes out as header and question with TC (512 without
// EDNS); a client with EDNS gets an OPT upstream with its size clamped to udp_answer_max (1232)
// and its DO bit, and a reply within that whole.
TEST_F(DnsServerTest, ForwardedUdpAnswerTruncatedToTheClientsLimit) {
  hal::SockAddr a, server_side, from;
  hal::Handle u = upstream(&a);
  start(forwarding({a}));
  ask("big.example.org", 21);
  auto q = recv_on(u, &server_side);
  ASSERT_TRUE(q.has_value());
  ASSERT_TRUE(env_.net().udp_send(u, server_side, reply_to(*q, 40)).is_ok());  // 673 bytes
  auto got = recv_on(client_, &from);
  ASSERT_TRUE(got.has_value());
  test::Parsed p = test::parse(*got);
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.id, 21);
  EXPECT_TRUE(p.flags & kFlagTc);
  EXPECT_EQ(p.counts[0], 1);
  EXPECT_EQ(p.counts[1], 0);
  EXPECT_EQ(p.qname, "big.example.org.");
  EXPECT_EQ(server_->counters().forward_truncated, 1u);

  ask("big.example.org", 22, kTypeA, 4096);
  q = recv_on(u, &server_side);
  ASSERT_TRUE(q.has_value());
  p = test::parse(*q);
  ASSERT_EQ(p.counts[3], 1);
  ASSERT_EQ(p.rrs.size(), 1u);
  EXPECT_EQ(p.rrs[0].type, kTypeOpt);
  EXPECT_EQ(p.rrs[0].klass, 1232);  // the OPT's CLASS is the UDP size
  ASSERT_TRUE(env_.net().udp_send(u, server_side, reply_to(*q, 60)).is_ok());  // 993 bytes
  got = recv_on(client_, &from);
  ASSERT_TRUE(got.has_value());
  p = test::parse(*got);
  EXPECT_EQ(p.id, 22);
  EXPECT_FALSE(p.flags & kFlagTc);
  EXPECT_EQ(p.counts[1], 60);
  EXPECT_EQ(server_->counters().forward_truncated, 1u);
}

// Over TCP: a forwarded query and a local one pipelined on one connection; the local answer is
// not held behind the forward (RFC 7766 §7), the forwarded one follows framed with the client's
// ID; a client that half-closes keeps its connection until its forwarded answer went.
TEST_F(DnsServerTest, TcpClientsForwardedAnswer) {
  hal::SockAddr a, server_side;
  hal::Handle u = upstream(&a);
  start(forwarding({a}));
  hal::Handle h = tcp_connect();
  std::vector<uint8_t> fwd = test::query_bytes("www.example.org", kTypeA);
  fwd[1] = 0x01;
  std::vector<uint8_t> two = framed(fwd);
  std::vector<uint8_t> local = framed(test::query_bytes("n1.node.weft", kTypeA));
  two.insert(two.end(), local.begin(), local.end());
  tcp_send(h, two);
  auto q = recv_on(u, &server_side);
  ASSERT_TRUE(q.has_value());
  auto got = tcp_read(h, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(test::parse(got[0]).id, 0x4242);  // the local answer first
  env_.net().shutdown_write(h);
  // Let the server read the EOF (100 ms of the loop): the connection stays, a forward is waiting.
  run_until([] { return false; }, Duration::millis(100));
  EXPECT_EQ(server_->counters().tcp_open, 1u);
  ASSERT_TRUE(env_.net().udp_send(u, server_side, reply_to(*q, 100)).is_ok());  // 1633 bytes: TCP takes it whole
  bool closed = false;
  got = tcp_read(h, 2, &closed);
  ASSERT_EQ(got.size(), 1u);
  test::Parsed p = test::parse(got[0]);
  EXPECT_EQ(p.id, 0x4201);
  EXPECT_EQ(p.counts[1], 100);
  EXPECT_TRUE(closed);  // then closed: the client finished sending and everything went
  EXPECT_EQ(server_->counters().forward_replies, 1u);
  EXPECT_EQ(server_->counters().tcp_open, 0u);
}

}  // namespace
}  // namespace dns
