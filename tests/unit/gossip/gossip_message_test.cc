// The gossip wire format: every message round-trips through encode/decode, compound packets
// respect their byte budget, and malformed input of every kind is refused with a Status.
#include <gtest/gtest.h>

#include "agent/base/random.h"
#include "agent/wire/gossip_message.h"

namespace {

using wire::GossipMessage;
using wire::GossipType;

hal::SockAddr v4(uint16_t port) { return hal::SockAddr::ipv4(10, 0, 0, 7, port); }

std::vector<GossipMessage> samples() {
  std::vector<GossipMessage> v;
  GossipMessage m;
  m.type = GossipType::kPing;
  m.ping = {42, "n1", "n2", v4(7702), true, 9ull << 32, "n3"};
  v.push_back(m);
  m = {};
  m.type = GossipType::kIndirectPing;
  m.indirect = {7, "n1", v4(1), "n2", hal::SockAddr::ipv6_loopback(2), true};
  v.push_back(m);
  m = {};
  m.type = GossipType::kAck;
  m.ack.seq = 0xffffffffu;
  v.push_back(m);
  m = {};
  m.type = GossipType::kNack;
  m.nack.seq = 5;
  v.push_back(m);
  m = {};
  m.type = GossipType::kAlive;
  m.alive = {1ull << 40, "node-a", v4(7702), {{"role", "worker"}, {"vsn", "1"}}};
  v.push_back(m);
  m = {};
  m.type = GossipType::kSuspect;
  m.suspect = {3, "a", "b"};
  v.push_back(m);
  m = {};
  m.type = GossipType::kDead;
  m.dead = {4, "a", "c"};
  v.push_back(m);
  m = {};
  m.type = GossipType::kLeave;
  m.leave = {5, "a"};
  v.push_back(m);
  m = {};
  m.type = GossipType::kUserEvent;
  m.event = {77, "deploy", std::string("\0\x01payload", 9)};
  v.push_back(m);
  return v;
}

TEST(GossipWire, EveryMessageRoundTripsAloneAndCompound) {
  for (const auto& m : samples()) {
    std::string pkt = wire::encode_packet({m});
    std::vector<GossipMessage> out;
    ASSERT_TRUE(wire::decode_packet(base::as_bytes(pkt), &out).is_ok()) << wire::gossip_type_name(m.type);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0], m) << wire::gossip_type_name(m.type);
  }
  auto all = samples();
  std::string pkt = wire::encode_packet(all);
  std::vector<GossipMessage> out;
  ASSERT_TRUE(wire::decode_packet(base::as_bytes(pkt), &out).is_ok());
  EXPECT_EQ(out, all);
  EXPECT_EQ(static_cast<uint8_t>(pkt[0]), wire::kGossipProtocolVersion);
}

TEST(GossipWire, PacketBuilderStaysWithinItsBudget) {
  wire::PacketBuilder b(200);
  GossipMessage m = samples()[4];  // alive, ~40 bytes
  int added = 0;
  while (b.add(m)) ++added;
  EXPECT_GT(added, 2);
  EXPECT_LE(b.finish().size(), 200u);
  std::vector<GossipMessage> out;
  ASSERT_TRUE(wire::decode_packet(base::as_bytes(b.finish()), &out).is_ok());
  EXPECT_EQ(out.size(), static_cast<size_t>(added));
  // The message count is bounded too.
  wire::PacketBuilder big(60000);
  GossipMessage ack;
  ack.type = GossipType::kAck;
  size_t n = 0;
  while (big.add(ack)) ++n;
  EXPECT_EQ(n, wire::kMessagesPerPacketMax);
}

TEST(GossipWire, UnknownTypesAreSkippedNotFatal) {
  std::string pkt = wire::encode_packet({samples()[2]});
  // Append a message of type 200 with a 3-byte body and bump the count.
  pkt[1] = 2;
  pkt += std::string("\xc8\x03xyz", 5);
  std::vector<GossipMessage> out;
  size_t unknown = 0;
  ASSERT_TRUE(wire::decode_packet(base::as_bytes(pkt), &out, &unknown).is_ok());
  EXPECT_EQ(out.size(), 1u);
  EXPECT_EQ(unknown, 1u);
}

TEST(GossipWire, MalformedInputIsRefused) {
  std::vector<GossipMessage> out;
  auto refuses = [&](std::string bytes) { return !wire::decode_packet(base::as_bytes(bytes), &out).is_ok(); };
  EXPECT_TRUE(refuses(""));
  EXPECT_TRUE(refuses(std::string("\x02\x01", 2)));              // unknown version
  EXPECT_TRUE(refuses(std::string("\x01\x00", 2)));              // zero messages
  EXPECT_TRUE(refuses(std::string("\x01\x41", 2)));              // 65 messages
  EXPECT_TRUE(refuses(std::string("\x01\x01\x03\x09\x00", 5)));  // length past the end
  EXPECT_TRUE(refuses(std::string("\x01\x01\x03\x05\x01\x02\x03\x04\x05", 9)));  // ack with trailing byte
  // Every truncation of a valid compound packet is refused, never asserted on.
  std::string pkt = wire::encode_packet(samples());
  for (size_t i = 0; i < pkt.size(); ++i) EXPECT_TRUE(refuses(pkt.substr(0, i))) << i;
  // Random bit flips: refused or decoded, never a crash.
  base::Prng p(1);
  for (int i = 0; i < 20000; ++i) {
    std::string mut = pkt;
    for (int k = 0; k < 3; ++k) mut[p.uniform(mut.size())] ^= static_cast<char>(1 << p.uniform(8));
    (void)wire::decode_packet(base::as_bytes(mut), &out);
  }
  // Oversized names and tags.
  GossipMessage m;
  m.type = GossipType::kSuspect;
  m.suspect = {1, std::string(wire::kNodeNameBytesMax + 1, 'x'), "b"};
  EXPECT_TRUE(refuses(wire::encode_packet({m})));
  m.type = GossipType::kAlive;
  m.alive = {1, "a", v4(1), {}};
  for (int i = 0; i < 70; ++i) m.alive.tags["k" + std::to_string(i)] = "v";
  EXPECT_TRUE(refuses(wire::encode_packet({m})));  // more than kTagCountMax tags
  m.alive.tags = {{"k", std::string(600, 'v')}};
  EXPECT_TRUE(refuses(wire::encode_packet({m})));  // over kTagsBytesMax
}

TEST(GossipWire, TagsMustBeCanonical) {
  // Two tags in descending key order: refused, so equal tag sets always have equal bytes.
  std::string body;
  base::ByteWriter w(&body, 1000);
  w.varint(2);
  w.str("b");
  w.str("1");
  w.str("a");
  w.str("2");
  base::ByteReader r(body);
  wire::Tags t;
  EXPECT_FALSE(wire::decode_tags(r, &t).is_ok());
}

TEST(GossipWire, PushPullRoundTripsAndIsBounded) {
  wire::PushPull pp;
  pp.join = true;
  pp.event_ltime = 99;
  for (int i = 0; i < 100; ++i) {
    pp.members.push_back({"n" + std::to_string(i), v4(static_cast<uint16_t>(i + 1)), uint64_t(i) << 32,
                          static_cast<wire::WireState>(i % 4), {{"role", "worker"}}});
  }
  for (int i = 0; i < 70; ++i) pp.events.push_back({uint64_t(i), "e", "p"});
  std::string bytes;
  EXPECT_EQ(wire::encode_push_pull(pp, &bytes), 100u);
  wire::PushPull out;
  ASSERT_TRUE(wire::decode_push_pull(base::as_bytes(bytes), &out).is_ok());
  EXPECT_EQ(out.members, pp.members);
  ASSERT_EQ(out.events.size(), wire::kPushPullEventsMax);  // the most recent 64
  EXPECT_EQ(out.events.front().ltime, 6u);
  EXPECT_TRUE(out.join);
  EXPECT_EQ(out.event_ltime, 99u);
  for (size_t i = 0; i < bytes.size(); i += 7) {
    EXPECT_FALSE(wire::decode_push_pull(base::as_bytes(bytes.substr(0, i)), &out).is_ok());
  }
  // A member count the bytes cannot hold is refused before anything is reserved.
  std::string lie;
  base::ByteWriter w(&lie, 100);
  w.u8(wire::kGossipProtocolVersion);
  w.u8(0);
  w.u64(0);
  w.varint(16000);
  EXPECT_FALSE(wire::decode_push_pull(base::as_bytes(lie), &out).is_ok());
}

}  // namespace
