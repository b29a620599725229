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

}  // namespace
