// The DHCPv4 client state machine (RFC 2131 §4.4) driven by fake servers written here, on a
// virtual clock: the full lease, a second server ignored after selection, NAKs, renewal at T1 by
// unicast, rebinding at T2 by broadcast, expiry back to INIT, retransmission timing within §4.1's
// bounds, INIT-REBOOT with a remembered address, and replies that are not ours ignored.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "boot/dhcp/client.h"

namespace dhcp {
namespace {

using base::Duration;
using base::MonoTime;

constexpr Ipv4 ip(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return (uint32_t{a} << 24) | (uint32_t{b} << 16) | (uint32_t{c} << 8) | d;
}
constexpr std::array<uint8_t, 6> kMac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
constexpr Ipv4 kServerA = ip(10, 7, 0, 1);
constexpr Ipv4 kServerB = ip(10, 7, 0, 2);

MonoTime at(double seconds) { return MonoTime::from_ns(static_cast<int64_t>(seconds * 1e9)); }
double secs(MonoTime t) { return static_cast<double>(t.ns()) / 1e9; }

Message decoded(const std::string& bytes) {
  Message m;
  EXPECT_EQ(decode(base::as_bytes(bytes), &m), DecodeError::kNone);
  return m;
}

// A DHCP server in the test: offers `address`, acknowledges REQUESTs meant for it, as configured.
struct FakeServer {
  Ipv4 id = kServerA;
  Ipv4 address = ip(10, 7, 0, 50);
  uint32_t lease_s = 3600;
  std::optional<uint32_t> t1_s;
  std::optional<uint32_t> t2_s;
  bool nak = false;              // NAK every REQUEST meant for us
  bool answer_renew = true;      // unicast REQUESTs with ciaddr (RENEWING)
  bool answer_rebind = true;     // broadcast REQUESTs with ciaddr (REBINDING)
  bool answer_requests = true;   // any REQUEST
  bool answer_discovers = true;
  std::vector<Message> received;

  std::optional<std::string> answer(const Send& s) {
    const Message req = decoded(s.bytes);
    if (!s.broadcast && s.to != id) return std::nullopt;  // unicast to another server
    received.push_back(req);
    Message r;
    r.op = kOpReply;
    r.xid = req.xid;
    r.flags = req.flags;
    r.ciaddr = req.ciaddr;
    r.chaddr = req.chaddr;
    r.server_id = id;
    if (req.type == MessageType::kDiscover) {
      if (!answer_discovers) return std::nullopt;
      r.type = MessageType::kOffer;
      r.yiaddr = address;
      fill(&r);
    } else if (req.type == MessageType::kRequest) {
      if (req.server_id && *req.server_id != id) return std::nullopt;  // the client chose another
      const bool renew = req.ciaddr != 0 && !s.broadcast;
      const bool rebind = req.ciaddr != 0 && s.broadcast;
      if (!answer_requests || (renew && !answer_renew) || (rebind && !answer_rebind)) return std::nullopt;
      if (nak) {
        r.type = MessageType::kNak;
        r.message = "wrong network";
      } else {
        r.type = MessageType::kAck;
        r.yiaddr = req.requested_ip.value_or(req.ciaddr);
        fill(&r);
      }
    } else {
      return std::nullopt;
    }
    auto bytes = encode(r);
    EXPECT_TRUE(bytes.is_ok());
    return std::move(bytes).value();
  }

  void fill(Message* r) const {
    r->lease_time_s = lease_s;
    r->renewal_time_s = t1_s;
    r->rebinding_time_s = t2_s;
    r->subnet_mask = ip(255, 255, 255, 0);
    r->routers = {id};
    r->dns_servers = {id, ip(9, 9, 9, 9)};
    r->domain_name = "fleet.weft";
    r->hostname = "node-50";
    r->mtu = 1400;
  }
};

// The client, a virtual clock, and what the client asked the node to do.
struct Node {
  explicit Node(uint64_t seed = 1, ClientConfig config = default_config()) : c(std::move(config), seed) {}

  static ClientConfig default_config() {
    ClientConfig cfg;
    cfg.mac = kMac;
    cfg.hostname = "node-a";
    return cfg;
  }

  // Takes the client's effects and performs them in order; returns the sends. A unicast send needs
  // the leased address on the link at that point of the order.
  std::vector<Send> take() {
    std::vector<Send> sends;
    for (const Action& a : c.take_effects().actions) {
      switch (a.kind) {
        case Action::Kind::kDeconfigure:
          EXPECT_TRUE(configured.has_value());
          if (configured) {
            EXPECT_EQ(configured->address, a.lease.address);
          }
          configured.reset();
          ++deconfigures;
          break;
        case Action::Kind::kConfigure:
          configured = a.lease;
          ++configures;
          break;
        case Action::Kind::kSend:
          if (!a.send.broadcast) {
            EXPECT_TRUE(configured.has_value()) << "unicast without an address";
          }
          sent.push_back({now, a.send});
          sends.push_back(a.send);
          break;
      }
    }
    return sends;
  }

  // Delivers what the client sends to `servers` and their replies back, until it is quiet.
  void exchange(const std::vector<FakeServer*>& servers) {
    for (int round = 0; round < 8; ++round) {
      const std::vector<Send> sends = take();
      if (sends.empty()) return;
      std::vector<std::string> replies;
      for (const Send& s : sends) {
        for (FakeServer* srv : servers) {
          if (auto r = srv->answer(s)) replies.push_back(*r);
        }
      }
      for (const std::string& r : replies) verdicts.push_back(c.on_packet(base::as_bytes(r), now));
    }
    FAIL() << "the exchange did not settle";
  }

  // Runs the client's timers up to `until`, delivering to `servers` after each.
  void run_until(MonoTime until, const std::vector<FakeServer*>& servers) {
    for (int i = 0; i < 10000 && c.next_wakeup() <= until; ++i) {
      ASSERT_GE(c.next_wakeup(), now) << "a timer in the past";
      now = c.next_wakeup();
      c.on_tick(now);
      ASSERT_GT(c.next_wakeup(), now) << "on_tick left a timer due";
      exchange(servers);
    }
    now = until;
  }

  void start(const std::vector<FakeServer*>& servers, std::optional<Ipv4> remembered = std::nullopt) {
    c.start(now, remembered);
    exchange(servers);
  }

  struct Sent {
    MonoTime when;
    Send send;
  };
  Client c;
  MonoTime now = at(100);
  std::vector<Sent> sent;
  std::vector<Verdict> verdicts;
  std::optional<Lease> configured;
  int configures = 0;
  int deconfigures = 0;
};

TEST(DhcpClient, FullLeaseDiscoverOfferRequestAck) {
  FakeServer srv;
  Node n;
  n.start({&srv});
  ASSERT_EQ(n.sent.size(), 2u);
  // DISCOVER: broadcast, broadcast bit, our chaddr and client id, the parameters we want.
  const Message d = decoded(n.sent[0].send.bytes);
  EXPECT_TRUE(n.sent[0].send.broadcast);
  EXPECT_EQ(d.type, MessageType::kDiscover);
  EXPECT_EQ(d.op, kOpRequest);
  EXPECT_EQ(d.flags, kFlagBroadcast);
  EXPECT_EQ(d.ciaddr, 0u);
  EXPECT_EQ(d.chaddr[0], 0x52);
  EXPECT_EQ(d.client_id, std::string("\x01\x52\x54\x00\x12\x34\x56", 7));
  EXPECT_EQ(d.max_message_bytes, 1500);
  EXPECT_EQ(d.hostname, "node-a");
  EXPECT_FALSE(d.server_id.has_value());
  EXPECT_FALSE(d.requested_ip.has_value());
  EXPECT_NE(std::find(d.parameter_list.begin(), d.parameter_list.end(), kOptClasslessRoutes), d.parameter_list.end());
  // REQUEST (SELECTING): same xid and secs, 50 = the offer, 54 = its server, ciaddr 0, broadcast.
  const Message r = decoded(n.sent[1].send.bytes);
  EXPECT_TRUE(n.sent[1].send.broadcast);
  EXPECT_EQ(r.type, MessageType::kRequest);
  EXPECT_EQ(r.xid, d.xid);
  EXPECT_EQ(r.secs, d.secs);
  EXPECT_EQ(r.requested_ip, srv.address);
  EXPECT_EQ(r.server_id, kServerA);
  EXPECT_EQ(r.ciaddr, 0u);
  // The ACK configures the lease.
  EXPECT_EQ(n.c.state(), State::kBound);
  ASSERT_TRUE(n.configured.has_value());
  const Lease& l = *n.configured;
  EXPECT_EQ(l.address, srv.address);
  EXPECT_EQ(l.prefix_len, 24);
  EXPECT_EQ(l.broadcast, ip(10, 7, 0, 255));
  EXPECT_EQ(l.server_id, kServerA);
  EXPECT_EQ(l.router, kServerA);
  EXPECT_EQ(l.dns_servers, (std::vector<Ipv4>{kServerA, ip(9, 9, 9, 9)}));
  EXPECT_EQ(l.domain_name, "fleet.weft");
  EXPECT_EQ(l.hostname, "node-50");
  EXPECT_EQ(l.mtu, 1400);
  EXPECT_TRUE(l.routes.empty());
  // No T1/T2 from the server: 0.5 and 0.875 of the lease, from when the REQUEST was sent.
  EXPECT_EQ(l.lease_time, Duration::seconds(3600));
  EXPECT_EQ(l.t1, Duration::seconds(1800));
  EXPECT_EQ(l.t2, Duration::seconds(3150));
  EXPECT_EQ(l.acquired, at(100));
  EXPECT_EQ(l.expires_at, at(3700));
  EXPECT_EQ(n.c.next_wakeup(), at(1900));
  EXPECT_EQ(n.c.lease(), l);
  EXPECT_EQ(n.c.counters().offers, 1u);
  EXPECT_EQ(n.c.counters().acks, 1u);
}

TEST(DhcpClient, SecondServerIgnoredAfterSelection) {
  FakeServer a;
  FakeServer b;
  b.id = kServerB;
  b.address = ip(10, 7, 0, 99);
  Node n;
  n.c.start(n.now);
  const std::vector<Send> discover = n.take();
  ASSERT_EQ(discover.size(), 1u);
  auto offer_a = a.answer(discover[0]);
  auto offer_b = b.answer(discover[0]);
  ASSERT_TRUE(offer_a && offer_b);
  EXPECT_EQ(n.c.on_packet(base::as_bytes(*offer_a), n.now), Verdict::kAccepted);
  EXPECT_EQ(n.c.state(), State::kRequesting);
  // The second OFFER (same xid) comes after selection: ignored.
  EXPECT_EQ(n.c.on_packet(base::as_bytes(*offer_b), n.now), Verdict::kUnexpected);
  const std::vector<Send> request = n.take();
  ASSERT_EQ(request.size(), 1u);
  EXPECT_EQ(decoded(request[0].bytes).server_id, kServerA);
  // B stays quiet when it is not named; an ACK from B anyway (same xid) is refused.
  EXPECT_FALSE(b.answer(request[0]).has_value());
  Message forged = decoded(*a.answer(request[0]));
  forged.server_id = kServerB;
  EXPECT_EQ(n.c.on_packet(base::as_bytes(encode(forged).value()), n.now), Verdict::kWrongServer);
  EXPECT_EQ(n.c.state(), State::kRequesting);
  EXPECT_EQ(n.c.on_packet(base::as_bytes(*a.answer(request[0])), n.now), Verdict::kAccepted);
  EXPECT_EQ(n.c.state(), State::kBound);
  EXPECT_EQ(n.c.lease()->address, a.address);
  EXPECT_EQ(n.c.counters().ignored[static_cast<size_t>(Verdict::kUnexpected)], 1u);
  EXPECT_EQ(n.c.counters().ignored[static_cast<size_t>(Verdict::kWrongServer)], 1u);
}

TEST(DhcpClient, NakInRequestingGoesBackToInitWithBackoff) {
  FakeServer srv;
  srv.nak = true;
  Node n;
  n.c.start(n.now);
  n.exchange({&srv});
  // DISCOVER, REQUEST, NAK -> INIT; the first NAK's DISCOVER goes out at once with a new xid,
  // and its REQUEST is refused again.
  ASSERT_EQ(n.sent.size(), 4u);
  EXPECT_EQ(decoded(n.sent[2].send.bytes).type, MessageType::kDiscover);
  EXPECT_NE(decoded(n.sent[2].send.bytes).xid, decoded(n.sent[0].send.bytes).xid);
  EXPECT_FALSE(decoded(n.sent[2].send.bytes).requested_ip.has_value());  // refused: not asked again
  EXPECT_EQ(n.c.state(), State::kInit);  // the second NAK: now waiting before the next DISCOVER
  EXPECT_EQ(n.c.counters().naks, 2u);
  EXPECT_EQ(n.deconfigures, 0);  // nothing was configured
  const double wait = secs(n.c.next_wakeup()) - secs(n.now);
  EXPECT_GE(wait, 3.0);
  EXPECT_LE(wait, 5.0);
  // Once the server relents, the client gets its lease and the NAK count resets.
  srv.nak = false;
  n.run_until(n.now + Duration::seconds(10), {&srv});
  EXPECT_EQ(n.c.state(), State::kBound);
}

TEST(DhcpClient, RenewsAtT1ByUnicastAndIsAnswered) {
  FakeServer srv;
  srv.t1_s = 600;
  srv.t2_s = 900;
  srv.lease_s = 1200;
  Node n;
  n.start({&srv});
  ASSERT_EQ(n.c.state(), State::kBound);
  EXPECT_EQ(n.c.next_wakeup(), at(700));
  const size_t before = n.sent.size();
  n.run_until(at(701), {&srv});
  ASSERT_EQ(n.sent.size(), before + 1);
  const Node::Sent& renew = n.sent[before];
  EXPECT_EQ(renew.when, at(700));
  EXPECT_FALSE(renew.send.broadcast);
  EXPECT_EQ(renew.send.to, kServerA);
  const Message m = decoded(renew.send.bytes);
  EXPECT_EQ(m.type, MessageType::kRequest);
  EXPECT_EQ(m.ciaddr, srv.address);
  EXPECT_EQ(m.flags, 0);
  EXPECT_FALSE(m.requested_ip.has_value());  // Table 5: MUST NOT in RENEWING
  EXPECT_FALSE(m.server_id.has_value());
  EXPECT_EQ(m.secs, 0);
  EXPECT_NE(m.xid, decoded(n.sent[0].send.bytes).xid);
  // The ACK renews: same address, times from the renewal's send time.
  EXPECT_EQ(n.c.state(), State::kBound);
  EXPECT_EQ(n.configures, 2);
  EXPECT_EQ(n.deconfigures, 0);
  EXPECT_EQ(n.configured->acquired, at(700));
  EXPECT_EQ(n.configured->expires_at, at(1900));
  EXPECT_EQ(n.c.next_wakeup(), at(1300));
}

TEST(DhcpClient, NoAnswerAtT1RebindsAtT2ThenExpiresToInit) {
  FakeServer srv;  // 3600 s: T1 1800, T2 3150 after the REQUEST at 100
  Node n;
  n.start({&srv});
  srv.answer_renew = false;
  srv.answer_rebind = false;
  srv.answer_discovers = false;
  const size_t bound_sends = n.sent.size();
  n.run_until(at(3700) - Duration::millis(1), {&srv});
  EXPECT_EQ(n.c.state(), State::kRebinding);
  EXPECT_EQ(n.deconfigures, 0);
  // RENEWING: unicast from T1 (1900) until T2 (3250), each wait half of what is left to T2 but
  // at least 60 s, and never past T2. REBINDING: broadcast from T2 to expiry (3700) likewise.
  std::vector<Node::Sent> renews, rebinds;
  for (size_t i = bound_sends; i < n.sent.size(); ++i) {
    const Message m = decoded(n.sent[i].send.bytes);
    EXPECT_EQ(m.type, MessageType::kRequest);
    EXPECT_EQ(m.ciaddr, srv.address);
    EXPECT_FALSE(m.server_id.has_value());
    EXPECT_FALSE(m.requested_ip.has_value());
    (n.sent[i].send.broadcast ? rebinds : renews).push_back(n.sent[i]);
  }
  ASSERT_GE(renews.size(), 3u);
  ASSERT_GE(rebinds.size(), 2u);
  EXPECT_EQ(renews.front().when, at(1900));
  EXPECT_EQ(secs(renews[1].when), 1900 + (3250 - 1900) / 2.0);
  for (const auto& r : renews) {
    EXPECT_FALSE(r.send.broadcast);
    EXPECT_EQ(r.send.to, kServerA);
    EXPECT_LT(r.when, at(3250));
    EXPECT_EQ(decoded(r.send.bytes).xid, decoded(renews[0].send.bytes).xid);  // one exchange
  }
  for (size_t i = 1; i < renews.size(); ++i) EXPECT_GE(renews[i].when - renews[i - 1].when, Duration::seconds(60));
  EXPECT_EQ(rebinds.front().when, at(3250));
  EXPECT_NE(decoded(rebinds[0].send.bytes).xid, decoded(renews[0].send.bytes).xid);  // a new exchange
  EXPECT_EQ(secs(rebinds[1].when), 3250 + (3700 - 3250) / 2.0);
  for (size_t i = 1; i < rebinds.size(); ++i) {
    EXPECT_GE(rebinds[i].when - rebinds[i - 1].when, Duration::seconds(60));
    EXPECT_LT(rebinds[i].when, at(3700));
  }
  // Expiry: deconfigure, INIT, and a DISCOVER at once that asks for the old address back.
  n.run_until(at(3700), {&srv});
  EXPECT_EQ(n.deconfigures, 1);
  EXPECT_FALSE(n.configured.has_value());
  EXPECT_FALSE(n.c.lease().has_value());
  EXPECT_EQ(n.c.state(), State::kSelecting);
  EXPECT_EQ(n.c.counters().expiries, 1u);
  const Message d = decoded(n.sent.back().send.bytes);
  EXPECT_EQ(d.type, MessageType::kDiscover);
  EXPECT_EQ(d.requested_ip, srv.address);
  EXPECT_EQ(n.sent.back().when, at(3700));
}

TEST(DhcpClient, RebindingAnsweredByAnotherServer) {
  FakeServer a;
  Node n;
  n.start({&a});
  FakeServer b;  // A is gone; B knows the lease (a failover pair)
  b.id = kServerB;
  b.address = a.address;
  n.run_until(at(3251), {&b});
  EXPECT_EQ(n.c.state(), State::kBound);
  EXPECT_EQ(n.c.lease()->server_id, kServerB);  // renewals now go to B
  EXPECT_EQ(n.c.lease()->acquired, at(3250));
}

TEST(DhcpClient, RetransmissionBackoffStaysWithinBounds) {
  // §4.1: waits of 4, 8, 16, 32, 64, 64, ... s, each randomized by -1..+1 s; the same xid, and
  // 'secs' counting from the first DISCOVER. Over several seeds.
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    Node n(seed);
    FakeServer silent;
    silent.answer_discovers = false;
    n.start({&silent});
    n.run_until(n.now + Duration::seconds(400), {&silent});
    ASSERT_GE(n.sent.size(), 8u);
    const double bases[] = {4, 8, 16, 32, 64, 64, 64};
    for (size_t i = 1; i < 8; ++i) {
      const double gap = secs(n.sent[i].when) - secs(n.sent[i - 1].when);
      EXPECT_GE(gap, bases[i - 1] - 1.0) << "seed " << seed << " retransmission " << i;
      EXPECT_LE(gap, bases[i - 1] + 1.0) << "seed " << seed << " retransmission " << i;
      const Message m = decoded(n.sent[i].send.bytes);
      EXPECT_EQ(m.type, MessageType::kDiscover);
      EXPECT_EQ(m.xid, decoded(n.sent[0].send.bytes).xid);
      EXPECT_EQ(m.secs, static_cast<uint16_t>((n.sent[i].when - n.sent[0].when).sec()));
    }
    EXPECT_EQ(n.c.counters().retransmits, n.sent.size() - 1);
  }
}

TEST(DhcpClient, UnansweredRequestGoesBackToInitAfterFourTries) {
  FakeServer srv;
  srv.answer_requests = false;
  Node n;
  n.start({&srv});
  ASSERT_EQ(n.c.state(), State::kRequesting);
  srv.answer_discovers = false;
  n.run_until(n.now + Duration::seconds(65), {&srv});
  // DISCOVER, then REQUEST at 0, ~4, ~12, ~28 s; at ~60 s INIT again and a new DISCOVER that
  // asks for the offered address.
  std::vector<MonoTime> requests;
  std::optional<Node::Sent> discover;
  for (const auto& s : n.sent) {
    const MessageType t = decoded(s.send.bytes).type;
    if (t == MessageType::kRequest) requests.push_back(s.when);
    if (t == MessageType::kDiscover && !requests.empty() && !discover) discover = s;
  }
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_EQ(n.c.counters().request_timeouts, 1u);
  ASSERT_TRUE(discover.has_value());
  EXPECT_EQ(decoded(discover->send.bytes).requested_ip, srv.address);
  EXPECT_GE(secs(discover->when) - secs(requests[0]), 56.0);
  EXPECT_LE(secs(discover->when) - secs(requests[0]), 64.0);
}

TEST(DhcpClient, InitRebootWithARememberedLease) {
  FakeServer srv;
  Node n;
  n.start({&srv}, srv.address);
  ASSERT_EQ(n.sent.size(), 1u);  // no DISCOVER: straight to REQUEST
  const Message r = decoded(n.sent[0].send.bytes);
  EXPECT_EQ(r.type, MessageType::kRequest);
  EXPECT_TRUE(n.sent[0].send.broadcast);
  EXPECT_EQ(r.requested_ip, srv.address);
  EXPECT_FALSE(r.server_id.has_value());  // Table 5: MUST NOT after INIT-REBOOT
  EXPECT_EQ(r.ciaddr, 0u);
  EXPECT_EQ(n.c.state(), State::kBound);
  EXPECT_EQ(n.configured->address, srv.address);
  EXPECT_EQ(n.configured->server_id, kServerA);

  // A NAK (the node moved to another network): INIT and a DISCOVER that does not ask for it.
  FakeServer other;
  other.nak = true;
  other.answer_discovers = false;
  Node m;
  m.start({&other}, ip(192, 168, 1, 9));
  EXPECT_EQ(m.c.counters().naks, 1u);
  EXPECT_EQ(decoded(m.sent[1].send.bytes).type, MessageType::kDiscover);
  EXPECT_FALSE(decoded(m.sent[1].send.bytes).requested_ip.has_value());
  EXPECT_EQ(m.deconfigures, 0);

  // Nobody answers: after four REQUESTs, INIT, with the remembered address as a hint.
  FakeServer silent;
  silent.answer_requests = false;
  silent.answer_discovers = false;
  Node q;
  q.start({&silent}, srv.address);
  EXPECT_EQ(q.c.state(), State::kRebooting);
  q.run_until(q.now + Duration::seconds(65), {&silent});
  EXPECT_EQ(q.c.state(), State::kSelecting);
  const Message d = decoded(q.sent.back().send.bytes);
  EXPECT_EQ(d.type, MessageType::kDiscover);
  EXPECT_EQ(d.requested_ip, srv.address);
}

TEST(DhcpClient, RepliesNotOursAreIgnored) {
  FakeServer srv;
  Node n;
  n.c.start(n.now);
  const std::vector<Send> discover = n.take();
  Message offer = decoded(*srv.answer(discover[0]));
  auto verdict = [&](const Message& m) { return n.c.on_packet(base::as_bytes(encode(m).value()), n.now); };
  Message wrong_xid = offer;
  wrong_xid.xid ^= 1;
  EXPECT_EQ(verdict(wrong_xid), Verdict::kWrongXid);
  Message wrong_mac = offer;
  wrong_mac.chaddr[5] ^= 1;
  EXPECT_EQ(verdict(wrong_mac), Verdict::kWrongChaddr);
  Message request = offer;  // another client's broadcast
  request.op = kOpRequest;
  EXPECT_EQ(verdict(request), Verdict::kNotReply);
  Message ack = offer;  // an ACK while SELECTING
  ack.type = MessageType::kAck;
  EXPECT_EQ(verdict(ack), Verdict::kUnexpected);
  Message no_server = offer;
  no_server.server_id.reset();
  EXPECT_EQ(verdict(no_server), Verdict::kInvalid);
  Message broadcast_address = offer;
  broadcast_address.yiaddr = 0xffffffff;
  EXPECT_EQ(verdict(broadcast_address), Verdict::kInvalid);
  Message broadcast_server = offer;  // RENEWING would unicast to it
  broadcast_server.server_id = 0xffffffff;
  EXPECT_EQ(verdict(broadcast_server), Verdict::kInvalid);
  const uint8_t garbage[10] = {2, 1, 6};
  EXPECT_EQ(n.c.on_packet(garbage, n.now), Verdict::kMalformed);
  EXPECT_EQ(n.c.counters().decode_errors[static_cast<size_t>(DecodeError::kTooShort)], 1u);
  EXPECT_EQ(n.c.state(), State::kSelecting);
  EXPECT_TRUE(n.take().empty());
  EXPECT_EQ(verdict(offer), Verdict::kAccepted);
  // In REQUESTING: an ACK for another address, or without a lease time, is refused.
  const std::vector<Send> req = n.take();
  Message ack2 = decoded(*srv.answer(req[0]));
  Message other_address = ack2;
  other_address.yiaddr = ip(10, 7, 0, 51);
  EXPECT_EQ(verdict(other_address), Verdict::kInvalid);
  Message no_lease = ack2;
  no_lease.lease_time_s.reset();
  EXPECT_EQ(verdict(no_lease), Verdict::kInvalid);
  EXPECT_EQ(verdict(ack2), Verdict::kAccepted);
  // BOUND waits for nothing: a repeated ACK is unexpected.
  EXPECT_EQ(verdict(ack2), Verdict::kUnexpected);
}

TEST(DhcpClient, T1AndT2DefaultsAndSanity) {
  struct Case {
    uint32_t lease;
    std::optional<uint32_t> t1, t2;
    double want_t1, want_t2;
  };
  const Case cases[] = {
      {1000, std::nullopt, std::nullopt, 500, 875},
      {1000, 300, 700, 300, 700},      // the server's, kept
      {1000, 800, 700, 500, 700},      // T1 >= T2: T1 defaults
      {1000, 300, 1000, 300, 875},     // T2 >= lease: T2 defaults
      {1000, 0, 0, 500, 875},          // zeros are not times
      {1000, std::nullopt, 400, 200, 400},  // default T1 not below T2: half of T2
      {1, std::nullopt, std::nullopt, 0.5, 0.875},
  };
  for (const Case& c : cases) {
    FakeServer srv;
    srv.lease_s = c.lease;
    srv.t1_s = c.t1;
    srv.t2_s = c.t2;
    Node n;
    n.start({&srv});
    ASSERT_TRUE(n.configured.has_value());
    EXPECT_EQ(static_cast<double>(n.configured->t1.ms()) / 1000, c.want_t1) << c.lease;
    EXPECT_EQ(static_cast<double>(n.configured->t2.ms()) / 1000, c.want_t2) << c.lease;
    EXPECT_LT(n.configured->t2, n.configured->lease_time);
  }
  // Infinite: no timer at all.
  FakeServer srv;
  srv.lease_s = kLeaseInfinite;
  Node n;
  n.start({&srv});
  EXPECT_EQ(n.c.state(), State::kBound);
  EXPECT_TRUE(n.c.next_wakeup().is_never());
  EXPECT_TRUE(n.configured->expires_at.is_never());
}

TEST(DhcpClient, ClasslessRoutesOverrideTheRouterOption) {
  FakeServer srv;
  Node n;
  n.c.start(n.now);
  std::vector<Send> s = n.take();
  n.c.on_packet(base::as_bytes(*srv.answer(s[0])), n.now);
  s = n.take();
  Message ack = decoded(*srv.answer(s[0]));
  ack.routers = {ip(10, 7, 0, 254)};
  ack.classless_routes = {{ip(172, 16, 0, 0), 12, ip(10, 7, 0, 3)}, {0, 0, ip(10, 7, 0, 1)},
                          {ip(10, 8, 0, 0), 16, 0}};
  ack.hostname = "bad name!";
  ack.subnet_mask = 0;  // says nothing: the class of 10.7.0.50 (/8) instead
  EXPECT_EQ(n.c.on_packet(base::as_bytes(encode(ack).value()), n.now), Verdict::kAccepted);
  n.take();
  EXPECT_EQ(n.configured->router, ip(10, 7, 0, 1));  // 121's 0/0, not option 3
  EXPECT_EQ(n.configured->routes,
            (std::vector<Route>{{ip(172, 16, 0, 0), 12, ip(10, 7, 0, 3)}, {ip(10, 8, 0, 0), 16, 0}}));
  EXPECT_EQ(n.configured->hostname, "");  // not a host name: not applied
  EXPECT_EQ(n.configured->prefix_len, 8);
}

TEST(DhcpClient, NakWhileRenewingDeconfigures) {
  FakeServer srv;
  Node n;
  n.start({&srv});
  srv.nak = true;
  srv.answer_discovers = false;
  n.run_until(at(1900), {&srv});
  EXPECT_EQ(n.deconfigures, 1);
  EXPECT_FALSE(n.c.lease().has_value());
  EXPECT_EQ(n.c.state(), State::kSelecting);
}

// Found by the dnsmasq interop test: with the deconfigure done before the sends, the unicast
// RELEASE had no source address left and never reached the server. A RELEASE goes out first; a
// DECLINE (broadcast from 0.0.0.0) after the address is gone.
TEST(DhcpClient, ReleaseLeavesBeforeTheAddressGoesAndDeclineAfter) {
  FakeServer srv;
  Node n;
  n.start({&srv});
  n.c.release(n.now);
  std::vector<Action> a = n.c.take_effects().actions;
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].kind, Action::Kind::kSend);
  EXPECT_EQ(a[0].send.type, MessageType::kRelease);
  EXPECT_EQ(a[1].kind, Action::Kind::kDeconfigure);
  Node d;
  d.start({&srv});
  ASSERT_TRUE(d.c.decline(d.now).is_ok());
  a = d.c.take_effects().actions;
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].kind, Action::Kind::kDeconfigure);
  EXPECT_EQ(a[1].kind, Action::Kind::kSend);
  EXPECT_EQ(a[1].send.type, MessageType::kDecline);
}

TEST(DhcpClient, ReleaseAndDecline) {
  FakeServer srv;
  Node n;
  n.start({&srv});
  n.c.release(n.now);
  const std::vector<Send> out = n.take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].broadcast);
  EXPECT_EQ(out[0].to, kServerA);
  const Message r = decoded(out[0].bytes);
  EXPECT_EQ(r.type, MessageType::kRelease);
  EXPECT_EQ(r.ciaddr, srv.address);
  EXPECT_EQ(r.server_id, kServerA);
  EXPECT_FALSE(r.requested_ip.has_value());
  EXPECT_TRUE(r.parameter_list.empty());
  EXPECT_EQ(n.deconfigures, 1);
  EXPECT_EQ(n.c.state(), State::kStopped);
  EXPECT_TRUE(n.c.next_wakeup().is_never());

  Node d;
  EXPECT_EQ(d.c.decline(d.now).code(), base::Code::kFailedPrecondition);
  d.start({&srv});
  ASSERT_TRUE(d.c.decline(d.now).is_ok());
  const std::vector<Send> dout = d.take();
  ASSERT_EQ(dout.size(), 1u);
  EXPECT_TRUE(dout[0].broadcast);
  const Message m = decoded(dout[0].bytes);
  EXPECT_EQ(m.type, MessageType::kDecline);
  EXPECT_EQ(m.ciaddr, 0u);
  EXPECT_EQ(m.requested_ip, srv.address);
  EXPECT_EQ(m.server_id, kServerA);
  EXPECT_EQ(d.deconfigures, 1);
  EXPECT_EQ(d.c.state(), State::kInit);
  EXPECT_EQ(d.c.next_wakeup(), d.now + Duration::seconds(10));  // §3.1.5
}

TEST(DhcpClient, ATimeJumpPastExpiryDeconfiguresAndStartsOver) {
  FakeServer srv;
  Node n;
  n.start({&srv});
  srv.answer_discovers = false;
  n.now = at(10000);
  n.c.on_tick(n.now);
  n.take();
  EXPECT_EQ(n.deconfigures, 1);
  EXPECT_EQ(n.c.state(), State::kSelecting);
  EXPECT_EQ(decoded(n.sent.back().send.bytes).type, MessageType::kDiscover);
}

// Found by dhcp_message_fuzz (corpus regress-ack-after-expiry): an ACK whose lease had already
// run out, counted from the REQUEST's first transmission, made the client ask the node to
// deconfigure an address it had never been told to configure.
TEST(DhcpClient, AckForALeaseAlreadyExpiredIsNeverShown) {
  FakeServer srv;
  srv.lease_s = 20;
  Node n;
  n.c.start(n.now);
  std::vector<Send> s = n.take();
  ASSERT_EQ(n.c.on_packet(base::as_bytes(*srv.answer(s[0])), n.now), Verdict::kAccepted);
  s = n.take();  // the REQUEST, first sent at 100
  const std::string ack = *srv.answer(s[0]);
  n.run_until(at(130), {});  // retransmitted, unanswered; the lease would end at 120
  ASSERT_EQ(n.c.state(), State::kRequesting);
  EXPECT_EQ(n.c.on_packet(base::as_bytes(ack), n.now), Verdict::kAccepted);
  const size_t before = n.sent.size();
  n.take();
  EXPECT_EQ(n.configures, 0);
  EXPECT_EQ(n.deconfigures, 0);
  EXPECT_EQ(n.c.counters().expiries, 1u);
  EXPECT_EQ(n.c.state(), State::kSelecting);
  ASSERT_EQ(n.sent.size(), before + 1);
  EXPECT_EQ(decoded(n.sent.back().send.bytes).type, MessageType::kDiscover);
}

TEST(DhcpClient, SameSeedSameRun) {
  auto run = [](uint64_t seed) {
    FakeServer silent;
    silent.answer_discovers = false;
    Node n(seed);
    n.start({&silent});
    n.run_until(n.now + Duration::seconds(300), {&silent});
    std::vector<std::pair<int64_t, std::string>> trace;
    for (const auto& s : n.sent) trace.push_back({s.when.ns(), s.send.bytes});
    return trace;
  };
  EXPECT_EQ(run(7), run(7));
  EXPECT_NE(run(7), run(8));
}

TEST(DhcpClient, InitialDelayWhenConfigured) {
  ClientConfig cfg = Node::default_config();
  cfg.init_delay_max = Duration::seconds(10);
  Node n(3, cfg);
  n.c.start(n.now);
  EXPECT_TRUE(n.take().empty());
  EXPECT_EQ(n.c.state(), State::kInit);
  EXPECT_LE(n.c.next_wakeup(), n.now + Duration::seconds(10));
}

}  // namespace
}  // namespace dhcp
