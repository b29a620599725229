// The DHCPv4 codec: hand-built packets decode field by field, every message the client sends and
// every option a server sends round-trips, long options split and concatenate (RFC 3396), option
// overload reads file and sname (RFC 2131 §4.1), and each malformed shape is refused by reason.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "boot/dhcp/message.h"

namespace dhcp {
namespace {

constexpr Ipv4 ip(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return (uint32_t{a} << 24) | (uint32_t{b} << 16) | (uint32_t{c} << 8) | d;
}

// A BOOTREPLY of `op` with xid 0x11223344, yiaddr 192.168.7.50, chaddr 52:54:00:12:34:56, the
// cookie, then `options` as given (no end byte added), `file` and `sname` copied into their fields.
std::vector<uint8_t> packet(std::vector<uint8_t> options, uint8_t op = kOpReply,
                            std::vector<uint8_t> file = {}, std::vector<uint8_t> sname = {}) {
  std::vector<uint8_t> b(kMinBytes, 0);
  b[0] = op;
  b[1] = 1;
  b[2] = 6;
  b[4] = 0x11, b[5] = 0x22, b[6] = 0x33, b[7] = 0x44;
  b[10] = 0x80;  // broadcast flag
  b[16] = 192, b[17] = 168, b[18] = 7, b[19] = 50;
  const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  for (int i = 0; i < 6; ++i) b[28 + i] = mac[i];
  for (size_t i = 0; i < sname.size() && i < kSnameBytes; ++i) b[kSnameOffset + i] = sname[i];
  for (size_t i = 0; i < file.size() && i < kFileBytes; ++i) b[kFileOffset + i] = file[i];
  b[236] = 99, b[237] = 130, b[238] = 83, b[239] = 99;
  b.insert(b.end(), options.begin(), options.end());
  return b;
}

DecodeError decode_bytes(const std::vector<uint8_t>& b, Message* m) { return decode(b, m); }

// dnsmasq's ACK for a client on 192.168.7.0/24 (the shape of a capture): type, server id, lease
// and T1/T2, mask, broadcast, routers, two DNS servers, domain, host name, MTU, then end.
std::vector<uint8_t> dnsmasq_ack() {
  return packet({53, 1, 5,
                 54, 4, 192, 168, 7, 1,
                 51, 4, 0, 0, 0x0e, 0x10,   // 3600 s
                 58, 4, 0, 0, 0x07, 0x08,   // 1800 s
                 59, 4, 0, 0, 0x0c, 0x4e,   // 3150 s
                 1, 4, 255, 255, 255, 0,
                 28, 4, 192, 168, 7, 255,
                 3, 4, 192, 168, 7, 1,
                 6, 8, 192, 168, 7, 1, 9, 9, 9, 9,
                 15, 4, 'w', 'e', 'f', 't',
                 12, 5, 'n', 'o', 'd', 'e', '7',
                 26, 2, 0x05, 0xdc,
                 255});
}

TEST(DhcpMessage, DecodesADnsmasqShapedAck) {
  Message m;
  ASSERT_EQ(decode_bytes(dnsmasq_ack(), &m), DecodeError::kNone);
  EXPECT_EQ(m.op, kOpReply);
  EXPECT_EQ(m.xid, 0x11223344u);
  EXPECT_EQ(m.flags, kFlagBroadcast);
  EXPECT_EQ(m.yiaddr, ip(192, 168, 7, 50));
  EXPECT_EQ(m.chaddr[0], 0x52);
  EXPECT_EQ(m.chaddr[5], 0x56);
  EXPECT_EQ(m.type, MessageType::kAck);
  EXPECT_EQ(m.server_id, ip(192, 168, 7, 1));
  EXPECT_EQ(m.lease_time_s, 3600u);
  EXPECT_EQ(m.renewal_time_s, 1800u);
  EXPECT_EQ(m.rebinding_time_s, 3150u);
  EXPECT_EQ(m.subnet_mask, ip(255, 255, 255, 0));
  EXPECT_EQ(m.broadcast, ip(192, 168, 7, 255));
  EXPECT_EQ(m.routers, std::vector<Ipv4>{ip(192, 168, 7, 1)});
  EXPECT_EQ(m.dns_servers, (std::vector<Ipv4>{ip(192, 168, 7, 1), ip(9, 9, 9, 9)}));
  EXPECT_EQ(m.domain_name, "weft");
  EXPECT_EQ(m.hostname, "node7");
  EXPECT_EQ(m.mtu, 1500);
  EXPECT_FALSE(m.requested_ip.has_value());
  EXPECT_TRUE(m.classless_routes.empty());
}

TEST(DhcpMessage, EachOptionDecodesToItsField) {
  struct Case {
    std::vector<uint8_t> option;
    void (*check)(const Message&);
  };
  const Case cases[] = {
      {{1, 4, 255, 255, 240, 0}, [](const Message& m) { EXPECT_EQ(m.subnet_mask, ip(255, 255, 240, 0)); }},
      {{3, 8, 10, 0, 0, 1, 10, 0, 0, 2},
       [](const Message& m) { EXPECT_EQ(m.routers, (std::vector<Ipv4>{ip(10, 0, 0, 1), ip(10, 0, 0, 2)})); }},
      {{6, 4, 1, 1, 1, 1}, [](const Message& m) { EXPECT_EQ(m.dns_servers, std::vector<Ipv4>{ip(1, 1, 1, 1)}); }},
      {{12, 3, 'a', 'b', 'c'}, [](const Message& m) { EXPECT_EQ(m.hostname, "abc"); }},
      {{15, 3, 'l', 'a', 'n'}, [](const Message& m) { EXPECT_EQ(m.domain_name, "lan"); }},
      {{26, 2, 0x23, 0x28}, [](const Message& m) { EXPECT_EQ(m.mtu, 9000); }},
      {{28, 4, 10, 0, 0, 255}, [](const Message& m) { EXPECT_EQ(m.broadcast, ip(10, 0, 0, 255)); }},
      {{50, 4, 10, 0, 0, 9}, [](const Message& m) { EXPECT_EQ(m.requested_ip, ip(10, 0, 0, 9)); }},
      {{51, 4, 0xff, 0xff, 0xff, 0xff}, [](const Message& m) { EXPECT_EQ(m.lease_time_s, 0xffffffffu); }},
      {{54, 4, 10, 0, 0, 1}, [](const Message& m) { EXPECT_EQ(m.server_id, ip(10, 0, 0, 1)); }},
      {{55, 3, 1, 3, 121}, [](const Message& m) { EXPECT_EQ(m.parameter_list, (std::vector<uint8_t>{1, 3, 121})); }},
      {{56, 2, 'n', 'o'}, [](const Message& m) { EXPECT_EQ(m.message, "no"); }},
      {{57, 2, 0x02, 0x40}, [](const Message& m) { EXPECT_EQ(m.max_message_bytes, 576); }},
      {{58, 4, 0, 0, 0, 60}, [](const Message& m) { EXPECT_EQ(m.renewal_time_s, 60u); }},
      {{59, 4, 0, 0, 0, 90}, [](const Message& m) { EXPECT_EQ(m.rebinding_time_s, 90u); }},
      {{61, 3, 0, 'i', 'd'}, [](const Message& m) { EXPECT_EQ(m.client_id, std::string("\0id", 3)); }},
      // RFC 3442 §3's examples: 10.17.0.0/16 via 10.0.0.1, and 0/0 via 10.0.0.1.
      {{121, 12, 16, 10, 17, 10, 0, 0, 1, 0, 10, 0, 0, 1},
       [](const Message& m) {
         EXPECT_EQ(m.classless_routes,
                   (std::vector<Route>{{ip(10, 17, 0, 0), 16, ip(10, 0, 0, 1)}, {0, 0, ip(10, 0, 0, 1)}}));
       }},
      // Unknown options (43, vendor) are skipped by length.
      {{43, 3, 1, 2, 3},
       [](const Message& m) {
         EXPECT_FALSE(m.server_id.has_value());
         EXPECT_TRUE(m.hostname.empty());
       }},
  };
  for (const Case& c : cases) {
    std::vector<uint8_t> opts = {53, 1, 2};
    opts.insert(opts.end(), c.option.begin(), c.option.end());
    opts.push_back(255);
    Message m;
    ASSERT_EQ(decode_bytes(packet(opts), &m), DecodeError::kNone) << "option " << int{c.option[0]};
    EXPECT_EQ(m.type, MessageType::kOffer);
    c.check(m);
  }
}

TEST(DhcpMessage, ClasslessRouteWidthsAndMasking) {
  // /0, /1, /8, /9, /24, /25, /32: 0, 1, 1, 2, 3, 4, 4 significant octets; bits past the width in
  // the last octet are masked off.
  std::vector<uint8_t> v = {0, 1, 1, 1, 1,
                            1, 0xff, 2, 2, 2, 2,
                            8, 10, 3, 3, 3, 3,
                            9, 172, 0xff, 4, 4, 4, 4,
                            24, 192, 168, 1, 5, 5, 5, 5,
                            25, 192, 168, 2, 0xff, 6, 6, 6, 6,
                            32, 8, 8, 8, 8, 0, 0, 0, 0};
  std::vector<uint8_t> opts = {53, 1, 5, 121, static_cast<uint8_t>(v.size())};
  opts.insert(opts.end(), v.begin(), v.end());
  Message m;
  ASSERT_EQ(decode_bytes(packet(opts), &m), DecodeError::kNone);
  const std::vector<Route> want = {{0, 0, ip(1, 1, 1, 1)},
                                   {ip(128, 0, 0, 0), 1, ip(2, 2, 2, 2)},
                                   {ip(10, 0, 0, 0), 8, ip(3, 3, 3, 3)},
                                   {ip(172, 128, 0, 0), 9, ip(4, 4, 4, 4)},
                                   {ip(192, 168, 1, 0), 24, ip(5, 5, 5, 5)},
                                   {ip(192, 168, 2, 128), 25, ip(6, 6, 6, 6)},
                                   {ip(8, 8, 8, 8), 32, 0}};
  EXPECT_EQ(m.classless_routes, want);
  auto again = encode(m);
  ASSERT_TRUE(again.is_ok());
  Message m2;
  ASSERT_EQ(decode(base::as_bytes(*again), &m2), DecodeError::kNone);
  EXPECT_EQ(m2.classless_routes, want);
}

Message client_message(MessageType type) {
  Message m;
  m.op = kOpRequest;
  m.xid = 0xdeadbeef;
  m.secs = 12;
  m.chaddr = {0x52, 0x54, 0x00, 0xab, 0xcd, 0xef};
  m.type = type;
  m.client_id = std::string("\x01\x52\x54\x00\xab\xcd\xef", 7);
  return m;
}

TEST(DhcpMessage, EveryClientMessageRoundTrips) {
  std::vector<Message> ms;
  Message discover = client_message(MessageType::kDiscover);
  discover.flags = kFlagBroadcast;
  discover.max_message_bytes = 1500;
  discover.parameter_list = {1, 28, 3, 6, 12, 15, 26, 121};
  discover.hostname = "node-1";
  ms.push_back(discover);
  Message selecting = discover;  // REQUEST in SELECTING: 50 and 54
  selecting.type = MessageType::kRequest;
  selecting.requested_ip = ip(10, 1, 0, 20);
  selecting.server_id = ip(10, 1, 0, 1);
  ms.push_back(selecting);
  Message reboot = discover;  // INIT-REBOOT: 50, no 54
  reboot.type = MessageType::kRequest;
  reboot.requested_ip = ip(10, 1, 0, 20);
  ms.push_back(reboot);
  Message renew = discover;  // RENEWING / REBINDING: ciaddr, neither 50 nor 54
  renew.type = MessageType::kRequest;
  renew.flags = 0;
  renew.ciaddr = ip(10, 1, 0, 20);
  ms.push_back(renew);
  Message release = client_message(MessageType::kRelease);
  release.ciaddr = ip(10, 1, 0, 20);
  release.server_id = ip(10, 1, 0, 1);
  ms.push_back(release);
  Message decline = client_message(MessageType::kDecline);
  decline.requested_ip = ip(10, 1, 0, 20);
  decline.server_id = ip(10, 1, 0, 1);
  ms.push_back(decline);
  for (const Message& m : ms) {
    auto bytes = encode(m);
    ASSERT_TRUE(bytes.is_ok()) << bytes.status().to_string();
    EXPECT_EQ(bytes->size(), kBootpMinBytes);  // small messages are padded to BOOTP's minimum
    EXPECT_EQ(static_cast<uint8_t>((*bytes)[kMinBytes]), kOptMessageType);  // 53 first
    Message back;
    ASSERT_EQ(decode(base::as_bytes(*bytes), &back), DecodeError::kNone);
    EXPECT_EQ(back, m) << message_type_name(m.type);
  }
}

Message full_reply() {
  Message m;
  m.op = kOpReply;
  m.hops = 1;
  m.xid = 7;
  m.flags = kFlagBroadcast;
  m.yiaddr = ip(10, 9, 0, 5);
  m.siaddr = ip(10, 9, 0, 1);
  m.giaddr = ip(10, 8, 0, 1);
  m.chaddr = {1, 2, 3, 4, 5, 6};
  m.type = MessageType::kAck;
  m.server_id = ip(10, 9, 0, 1);
  m.lease_time_s = 86400;
  m.renewal_time_s = 40000;
  m.rebinding_time_s = 70000;
  m.subnet_mask = ip(255, 255, 0, 0);
  m.broadcast = ip(10, 9, 255, 255);
  m.mtu = 9000;
  m.routers = {ip(10, 9, 0, 1), ip(10, 9, 0, 2)};
  m.dns_servers = {ip(10, 9, 0, 53)};
  m.classless_routes = {{ip(192, 168, 0, 0), 16, ip(10, 9, 0, 3)}, {0, 0, ip(10, 9, 0, 1)}};
  m.hostname = "worker-3";
  m.domain_name = "fleet.example";
  m.message = "welcome";
  return m;
}

TEST(DhcpMessage, EveryServerOptionRoundTrips) {
  const Message m = full_reply();
  auto bytes = encode(m);
  ASSERT_TRUE(bytes.is_ok()) << bytes.status().to_string();
  Message back;
  ASSERT_EQ(decode(base::as_bytes(*bytes), &back), DecodeError::kNone);
  EXPECT_EQ(back, m);
}

TEST(DhcpMessage, LongOptionsSplitAndConcatenate) {
  // 40 routes of 8 bytes: 320 bytes of option 121, written as two instances (255 + 65).
  Message m = full_reply();
  m.classless_routes.clear();
  for (uint8_t i = 0; i < 40; ++i) m.classless_routes.push_back({ip(172, 16, i, 0), 24, ip(10, 9, 0, 1)});
  m.hostname = std::string(300, 'h');
  auto bytes = encode(m);
  ASSERT_TRUE(bytes.is_ok()) << bytes.status().to_string();
  // Walk the options: two instances of 121 (255 then 65), two of 12 (255 then 45).
  std::vector<std::pair<int, int>> seen;
  for (size_t pos = kMinBytes; pos < bytes->size();) {
    const uint8_t code = static_cast<uint8_t>((*bytes)[pos]);
    if (code == 255) break;
    const uint8_t len = static_cast<uint8_t>((*bytes)[pos + 1]);
    if (code == 121 || code == 12) seen.push_back({code, len});
    pos += 2 + len;
  }
  EXPECT_EQ(seen, (std::vector<std::pair<int, int>>{{12, 255}, {12, 45}, {121, 255}, {121, 65}}));
  Message back;
  ASSERT_EQ(decode(base::as_bytes(*bytes), &back), DecodeError::kNone);
  EXPECT_EQ(back, m);

  // By hand: a host name in two pieces with other options between them, and a route split in the
  // middle of its router address (RFC 3396 §7: concatenate first, then interpret).
  Message h;
  ASSERT_EQ(decode_bytes(packet({53, 1, 2, 12, 4, 'n', 'o', 'd', 'e', 54, 4, 10, 0, 0, 1, 12, 2, '-', '7',
                                 121, 5, 8, 10, 10, 0, 0, 121, 1, 1, 255}),
                         &h),
            DecodeError::kNone);
  EXPECT_EQ(h.hostname, "node-7");
  EXPECT_EQ(h.classless_routes, (std::vector<Route>{{ip(10, 0, 0, 0), 8, ip(10, 0, 0, 1)}}));
}

TEST(DhcpMessage, OverloadReadsFileThenSname) {
  // Option 52 = 3: options go on in file, then sname; DNS servers in all three concatenate in that
  // order. Each area ends at its own 255.
  const std::vector<uint8_t> file = {6, 4, 2, 2, 2, 2, 12, 3, 'f', 'i', 'l', 255};
  const std::vector<uint8_t> sname = {6, 4, 3, 3, 3, 3, 0, 0, 15, 2, 's', 'n', 255};
  Message m;
  ASSERT_EQ(decode_bytes(packet({53, 1, 2, 52, 1, 3, 6, 4, 1, 1, 1, 1, 255}, kOpReply, file, sname), &m),
            DecodeError::kNone);
  EXPECT_EQ(m.dns_servers, (std::vector<Ipv4>{ip(1, 1, 1, 1), ip(2, 2, 2, 2), ip(3, 3, 3, 3)}));
  EXPECT_EQ(m.hostname, "fil");
  EXPECT_EQ(m.domain_name, "sn");

  // 52 = 1: file only; sname is a server name, not options.
  ASSERT_EQ(decode_bytes(packet({53, 1, 2, 52, 1, 1, 255}, kOpReply, file, sname), &m), DecodeError::kNone);
  EXPECT_EQ(m.dns_servers, std::vector<Ipv4>{ip(2, 2, 2, 2)});
  EXPECT_EQ(m.domain_name, "");
  // 52 = 2: sname only.
  ASSERT_EQ(decode_bytes(packet({53, 1, 2, 52, 1, 2, 255}, kOpReply, file, sname), &m), DecodeError::kNone);
  EXPECT_EQ(m.dns_servers, std::vector<Ipv4>{ip(3, 3, 3, 3)});
  EXPECT_EQ(m.hostname, "");
  // No overload: file and sname are ignored, however much they look like options.
  ASSERT_EQ(decode_bytes(packet({53, 1, 2, 255}, kOpReply, file, sname), &m), DecodeError::kNone);
  EXPECT_TRUE(m.dns_servers.empty());
  // An area without 255 ends at its end; option 52 inside file is ignored (options field only).
  std::vector<uint8_t> full_file(kFileBytes, 0);
  full_file[0] = 52, full_file[1] = 1, full_file[2] = 2;
  full_file[kFileBytes - 3] = 12, full_file[kFileBytes - 2] = 1, full_file[kFileBytes - 1] = 'x';
  ASSERT_EQ(decode_bytes(packet({53, 1, 2, 52, 1, 1, 255}, kOpReply, full_file, sname), &m), DecodeError::kNone);
  EXPECT_EQ(m.hostname, "x");
  EXPECT_TRUE(m.dns_servers.empty());  // sname was not read
}

TEST(DhcpMessage, RejectsEachMalformedShape) {
  struct Case {
    const char* what;
    std::vector<uint8_t> bytes;
    DecodeError want;
  };
  std::vector<uint8_t> short_packet = packet({});
  short_packet.pop_back();
  std::vector<uint8_t> long_packet = packet({53, 1, 5, 255});
  long_packet.resize(kMessageBytesMax + 1, 0);
  std::vector<uint8_t> bad_cookie = packet({53, 1, 5, 255});
  bad_cookie[239] = 98;
  std::vector<uint8_t> bad_hlen = packet({53, 1, 5, 255});
  bad_hlen[2] = 17;
  const std::vector<uint8_t> area_overrun_file = {12, 200, 'a'};
  const Case cases[] = {
      {"short packet", short_packet, DecodeError::kTooShort},
      {"empty", {}, DecodeError::kTooShort},
      {"too long", long_packet, DecodeError::kTooLong},
      {"bad cookie", bad_cookie, DecodeError::kBadCookie},
      {"op 0", packet({53, 1, 5, 255}, 0), DecodeError::kBadOp},
      {"op 3", packet({53, 1, 5, 255}, 3), DecodeError::kBadOp},
      {"hlen 17", bad_hlen, DecodeError::kBadHlen},
      {"value past the end", packet({53, 1, 5, 12, 10, 'a', 'b'}), DecodeError::kOptionOverrun},
      {"length byte missing", packet({53, 1, 5, 12}), DecodeError::kOptionOverrun},
      {"overrun in file", packet({53, 1, 5, 52, 1, 1, 255}, kOpReply, area_overrun_file), DecodeError::kOptionOverrun},
      {"53 empty", packet({53, 0, 255}), DecodeError::kBadOptionLength},
      {"53 twice", packet({53, 1, 5, 53, 1, 5, 255}), DecodeError::kBadOptionLength},
      {"53 zero", packet({53, 1, 0, 255}), DecodeError::kBadOptionValue},
      {"53 nine", packet({53, 1, 9, 255}), DecodeError::kBadOptionValue},
      {"no 53", packet({54, 4, 1, 2, 3, 4, 255}), DecodeError::kNoMessageType},
      {"54 of 3", packet({53, 1, 5, 54, 3, 1, 2, 3, 255}), DecodeError::kBadOptionLength},
      {"51 of 5", packet({53, 1, 5, 51, 5, 0, 0, 0, 0, 1, 255}), DecodeError::kBadOptionLength},
      {"58 empty", packet({53, 1, 5, 58, 0, 255}), DecodeError::kBadOptionLength},
      {"1 empty", packet({53, 1, 5, 1, 0, 255}), DecodeError::kBadOptionLength},
      {"1 not contiguous", packet({53, 1, 5, 1, 4, 255, 0, 255, 0, 255}), DecodeError::kBadOptionValue},
      {"3 empty", packet({53, 1, 5, 3, 0, 255}), DecodeError::kBadOptionLength},
      {"6 of 6", packet({53, 1, 5, 6, 6, 1, 1, 1, 1, 2, 2, 255}), DecodeError::kBadOptionLength},
      {"12 empty", packet({53, 1, 5, 12, 0, 255}), DecodeError::kBadOptionLength},
      {"15 empty", packet({53, 1, 5, 15, 0, 255}), DecodeError::kBadOptionLength},
      {"26 of 1", packet({53, 1, 5, 26, 1, 5, 255}), DecodeError::kBadOptionLength},
      {"26 under 68", packet({53, 1, 5, 26, 2, 0, 67, 255}), DecodeError::kBadOptionValue},
      {"57 under 576", packet({53, 1, 5, 57, 2, 0x02, 0x3f, 255}), DecodeError::kBadOptionValue},
      {"55 empty", packet({53, 1, 5, 55, 0, 255}), DecodeError::kBadOptionLength},
      {"61 of 1", packet({53, 1, 5, 61, 1, 1, 255}), DecodeError::kBadOptionLength},
      {"52 of 2", packet({53, 1, 5, 52, 2, 1, 1, 255}), DecodeError::kBadOptionLength},
      {"52 zero", packet({53, 1, 5, 52, 1, 0, 255}), DecodeError::kBadOptionValue},
      {"52 four", packet({53, 1, 5, 52, 1, 4, 255}), DecodeError::kBadOptionValue},
      {"121 empty", packet({53, 1, 5, 121, 0, 255}), DecodeError::kBadOptionLength},
      {"121 of 4", packet({53, 1, 5, 121, 4, 0, 1, 1, 1, 255}), DecodeError::kBadOptionLength},
      {"121 width 33", packet({53, 1, 5, 121, 9, 33, 1, 2, 3, 4, 5, 6, 7, 8, 255}), DecodeError::kBadClasslessRoute},
      {"121 width 255", packet({53, 1, 5, 121, 5, 255, 1, 1, 1, 1, 255}), DecodeError::kBadClasslessRoute},
      {"121 route cut short", packet({53, 1, 5, 121, 7, 24, 10, 0, 0, 1, 1, 1, 255}),
       DecodeError::kBadClasslessRoute},
      {"121 second route cut short", packet({53, 1, 5, 121, 7, 0, 1, 1, 1, 1, 8, 10, 255}),
       DecodeError::kBadClasslessRoute},
  };
  for (const Case& c : cases) {
    Message m;
    EXPECT_EQ(decode_bytes(c.bytes, &m), c.want) << c.what;
    EXPECT_FALSE(decode_error_name(c.want).empty());
  }
}

TEST(DhcpMessage, PaddingEndAndBoundedLists) {
  Message m;
  // Pad bytes anywhere, end in the middle: what follows the end is not read.
  ASSERT_EQ(decode_bytes(packet({0, 0, 53, 1, 2, 0, 255, 12, 200}), &m), DecodeError::kNone);
  EXPECT_EQ(m.type, MessageType::kOffer);
  // No end at all: the options run to the end of the packet.
  ASSERT_EQ(decode_bytes(packet({53, 1, 2, 12, 2, 'a', 'b'}), &m), DecodeError::kNone);
  EXPECT_EQ(m.hostname, "ab");
  // 20 DNS servers keep the first kAddressesMax.
  std::vector<uint8_t> opts = {53, 1, 2, 6, 80};
  for (uint8_t i = 0; i < 20; ++i) opts.insert(opts.end(), {10, 0, 0, i});
  opts.push_back(255);
  ASSERT_EQ(decode_bytes(packet(opts), &m), DecodeError::kNone);
  ASSERT_EQ(m.dns_servers.size(), kAddressesMax);
  EXPECT_EQ(m.dns_servers.back(), ip(10, 0, 0, kAddressesMax - 1));
  // Trailing NULs of C-string servers are dropped; all NULs is no name at all.
  ASSERT_EQ(decode_bytes(packet({53, 1, 2, 12, 4, 'a', 'b', 0, 0, 15, 1, 0, 255}), &m), DecodeError::kNone);
  EXPECT_EQ(m.hostname, "ab");
  EXPECT_EQ(m.domain_name, "");
}

TEST(DhcpMessage, EncodeRefusesWhatCannotBeSaid) {
  Message m = full_reply();
  m.type = MessageType::kNone;
  EXPECT_FALSE(encode(m).is_ok());
  m = full_reply();
  m.hlen = 17;
  EXPECT_FALSE(encode(m).is_ok());
  m = full_reply();
  m.routers.assign(kAddressesMax + 1, ip(10, 0, 0, 1));
  EXPECT_FALSE(encode(m).is_ok());
  m = full_reply();
  m.subnet_mask = ip(255, 0, 255, 0);
  EXPECT_FALSE(encode(m).is_ok());
  m = full_reply();
  m.classless_routes = {{0, 33, 0}};
  EXPECT_FALSE(encode(m).is_ok());
  m = full_reply();
  m.hostname = "a";
  m.hostname.push_back('\0');
  EXPECT_FALSE(encode(m).is_ok());
  m = full_reply();
  m.message = std::string(kMessageBytesMax, 'x');  // fits only with overload, never used
  auto r = encode(m);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), base::Code::kInvalidArgument);
}

TEST(DhcpMessage, MaskHelpers) {
  EXPECT_EQ(mask_prefix_len(ip(255, 255, 255, 0)), 24);
  EXPECT_EQ(mask_prefix_len(0), 0);
  EXPECT_EQ(mask_prefix_len(0xffffffff), 32);
  EXPECT_EQ(mask_prefix_len(ip(255, 255, 0, 255)), -1);
  EXPECT_EQ(prefix_mask(20), ip(255, 255, 240, 0));
  EXPECT_EQ(prefix_mask(0), 0u);
  EXPECT_EQ(ipv4_string(ip(192, 168, 7, 50)), "192.168.7.50");
  EXPECT_EQ(message_type_name(MessageType::kNak), "DHCPNAK");
}

}  // namespace
}  // namespace dhcp
