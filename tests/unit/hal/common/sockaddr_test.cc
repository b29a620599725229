// Proves SockAddr parses and prints IPv4, IPv6 (RFC 5952 form) and Unix addresses, and refuses
// malformed ones with a message instead of guessing.
#include <gtest/gtest.h>

#include "hal/net.h"

namespace {

using hal::SockAddr;

std::string round_trip(std::string_view text, uint16_t default_port = 0) {
  auto a = SockAddr::parse(text, default_port);
  if (!a.is_ok()) return "error: " + a.status().message();
  return a->to_string();
}

TEST(SockAddr, ParsesAndFormats) {
  EXPECT_EQ(round_trip("127.0.0.1:7700"), "127.0.0.1:7700");
  EXPECT_EQ(round_trip("10.0.0.2", 7702), "10.0.0.2:7702");
  EXPECT_EQ(round_trip("[::1]:53"), "[::1]:53");
  EXPECT_EQ(round_trip("::1", 8600), "[::1]:8600");
  EXPECT_EQ(round_trip("[2001:db8:0:0:1:0:0:1]:80"), "[2001:db8::1:0:0:1]:80");
  EXPECT_EQ(round_trip("[fe80::]:1"), "[fe80::]:1");
  EXPECT_EQ(round_trip("[::ffff:10.1.2.3]:9"), "[::ffff:a01:203]:9");
  EXPECT_EQ(round_trip("[::]:0"), "[::]:0");
  EXPECT_EQ(round_trip("unix:/run/agent/agent.sock"), "unix:/run/agent/agent.sock");
  EXPECT_EQ(round_trip("/tmp/x.sock"), "unix:/tmp/x.sock");
  EXPECT_TRUE(SockAddr::parse("127.0.0.9:1")->is_loopback());
  EXPECT_FALSE(SockAddr::parse("10.0.0.1:1")->is_loopback());
}

TEST(SockAddr, RefusesMalformed) {
  for (const char* bad : {"", "1.2.3.4", "1.2.3.4:", "1.2.3.4:65536", "1.2.3:80", "1.2.3.256:80",
                          "01.2.3.4:80", "host.example:80", "[::1", "[::1]x", "[1:2:3:4:5:6:7:8:9]:1",
                          "[1::2::3]:1", "[12345::]:1", "unix:relative", ":80", "1.2.3.4:8a"}) {
    EXPECT_FALSE(SockAddr::parse(bad).is_ok()) << bad;
  }
  std::string long_path = "/" + std::string(200, 'a');
  EXPECT_FALSE(SockAddr::parse(long_path).is_ok());
}

std::string network(std::string_view text) {
  auto n = hal::IpNetwork::parse(text);
  if (!n.is_ok()) return "error: " + n.status().message();
  return n->to_string();
}

// IpNetwork: CIDR text in both families (a bare address is one host), refusals that say why
// (host bits set names the network meant), and contains() at the prefix's edges, with an
// IPv4-mapped IPv6 peer matching IPv4 networks.
TEST(IpNetwork, ParsesRefusesAndContains) {
  EXPECT_EQ(network("127.0.0.0/8"), "127.0.0.0/8");
  EXPECT_EQ(network("::1/128"), "::1/128");
  EXPECT_EQ(network("0.0.0.0/0"), "0.0.0.0/0");
  EXPECT_EQ(network("fd00::/8"), "fd00::/8");
  EXPECT_EQ(network("10.1.2.3"), "10.1.2.3/32");
  EXPECT_EQ(network("::1"), "::1/128");
  EXPECT_EQ(network("10.0.0.1/8"), "error: host bits set in \"10.0.0.1/8\": did you mean 10.0.0.0/8?");
  EXPECT_EQ(network("10.0.0.0/33"), "error: bad prefix length in \"10.0.0.0/33\": want 0..32");
  for (const char* bad : {"", "/8", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/08", "10.0.0/8", "::1/129", "[::1]/128",
                          "10.0.0.0:53/8", "example.com/8", "10.0.0.0/8/8"}) {
    EXPECT_FALSE(hal::IpNetwork::parse(bad).is_ok()) << bad;
  }
  const hal::IpNetwork ten = hal::IpNetwork::parse("10.128.0.0/9").value();
  EXPECT_TRUE(ten.contains(SockAddr::ipv4(10, 128, 0, 0, 53)));
  EXPECT_TRUE(ten.contains(SockAddr::ipv4(10, 255, 255, 255, 53)));
  EXPECT_FALSE(ten.contains(SockAddr::ipv4(10, 127, 255, 255, 53)));
  EXPECT_FALSE(ten.contains(SockAddr::ipv4(11, 128, 0, 0, 53)));
  EXPECT_TRUE(ten.contains(SockAddr::parse("[::ffff:10.200.0.1]:53").value()));
  EXPECT_FALSE(ten.contains(SockAddr::parse("[::10.200.0.1]:53").value()));
  EXPECT_FALSE(ten.contains(SockAddr::unix_path("/x")));
  EXPECT_TRUE(hal::IpNetwork::parse("0.0.0.0/0")->contains(SockAddr::ipv4(192, 0, 2, 1, 1)));
  const hal::IpNetwork loop6 = hal::IpNetwork::parse("::1/128").value();
  EXPECT_TRUE(loop6.contains(SockAddr::ipv6_loopback(53)));
  EXPECT_FALSE(loop6.contains(SockAddr::ipv4(127, 0, 0, 1, 53)));
  EXPECT_TRUE(hal::IpNetwork::parse("fe80::/10")->contains(SockAddr::parse("[febf::1]:1").value()));
  EXPECT_FALSE(hal::IpNetwork::parse("fe80::/10")->contains(SockAddr::parse("[fec0::1]:1").value()));
}

}  // namespace
