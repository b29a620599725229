// The value parsers: accepted and refused forms, overflow, and formatter round trips.
#include "agent/config/parse.h"

#include <gtest/gtest.h>

#include "agent/config/schema.h"

namespace config {
namespace {

TEST(ParseTest, Durations) {
  int64_t ns = 0;
  EXPECT_TRUE(parse_duration("500ms", &ns));
  EXPECT_EQ(ns, 500'000'000);
  EXPECT_TRUE(parse_duration("1m30s", &ns));
  EXPECT_EQ(ns, 90'000'000'000);
  EXPECT_TRUE(parse_duration("2h", &ns));
  EXPECT_TRUE(parse_duration("0", &ns));
  EXPECT_EQ(ns, 0);
  for (const char* bad : {"", "10", "1.5s", "-1s", "10 s", "s", "1d", "10sec", "99999999999h"}) {
    EXPECT_FALSE(parse_duration(bad, &ns)) << bad;
  }
  for (int64_t v :
       {int64_t{1}, int64_t{1500}, int64_t{90'000'000'000}, int64_t{3'723'000'000'005}}) {
    int64_t back = 0;
    ASSERT_TRUE(parse_duration(format_duration(v), &back)) << format_duration(v);
    EXPECT_EQ(back, v);
  }
  EXPECT_EQ(format_duration(1'500'000'000), "1s500ms");
}

TEST(ParseTest, BytesAndInts) {
  int64_t n = 0;
  EXPECT_TRUE(parse_bytes("256KiB", &n));
  EXPECT_EQ(n, 256 << 10);
  EXPECT_TRUE(parse_bytes("1048576", &n));
  EXPECT_EQ(format_bytes(n), "1MiB");
  EXPECT_EQ(format_bytes(1000), "1000");
  for (const char* bad : {"", "1MB", "1 MiB", "-1", "99999999999GiB"}) {
    EXPECT_FALSE(parse_bytes(bad, &n)) << bad;
  }
  EXPECT_TRUE(parse_int("-42", &n));
  EXPECT_EQ(n, -42);
  for (const char* bad : {"", "-", "+1", "1e3", "0x10", " 1", "99999999999999999999"}) {
    EXPECT_FALSE(parse_int(bad, &n)) << bad;
  }
}

TEST(ParseTest, Booleans) {
  bool b = false;
  for (const char* t : {"true", "TRUE", "1", "yes", "on"}) {
    EXPECT_TRUE(parse_bool(t, &b) && b) << t;
  }
  for (const char* f : {"false", "0", "No", "off"}) {
    EXPECT_TRUE(parse_bool(f, &b) && !b) << f;
  }
  EXPECT_FALSE(parse_bool("", &b));
  EXPECT_FALSE(parse_bool("y", &b));
}

TEST(ParseTest, Addresses) {
  for (const char* ok : {"0.0.0.0", "10.1.2.3", "255.255.255.255"}) EXPECT_TRUE(is_ipv4(ok)) << ok;
  for (const char* bad : {"1.2.3", "1.2.3.4.5", "256.1.1.1", "01.1.1.1", "1..2.3", ""}) {
    EXPECT_FALSE(is_ipv4(bad)) << bad;
  }
  for (const char* ok : {"::", "::1", "fe80::1", "1:2:3:4:5:6:7:8", "1::", "::ffff:10.0.0.1",
                         "2001:db8::8a2e:370:7334"}) {
    EXPECT_TRUE(is_ipv6(ok)) << ok;
  }
  for (const char* bad : {":", ":::", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", "1:2",
                          "g::", "1:2:3:4:5:6:7:", "::1.2.3"}) {
    EXPECT_FALSE(is_ipv6(bad)) << bad;
  }
  std::string why;
  for (const char* ok : {"10.0.0.1", "10.0.0.1:7702", "node-1.example.com:80", "[::1]:7702",
                         "[fe80::1]", "localhost"}) {
    EXPECT_TRUE(is_address(ok, &why)) << ok << ": " << why;
  }
  for (const char* bad : {"", "::1", "[::1", "[::1]x", "host:", "host:0", "host:65536",
                          "-bad.example", "a_b.example"}) {
    EXPECT_FALSE(is_address(bad, &why)) << bad;
  }
}

TEST(ParseTest, Base64) {
  size_t n = 0;
  EXPECT_TRUE(base64_decoded_bytes("YWJj", &n));
  EXPECT_EQ(n, 3u);
  EXPECT_TRUE(base64_decoded_bytes("YQ==", &n));
  EXPECT_EQ(n, 1u);
  EXPECT_FALSE(base64_decoded_bytes("YQ=", &n));
  EXPECT_FALSE(base64_decoded_bytes("Y=Q=", &n));
  EXPECT_FALSE(base64_decoded_bytes("YW!j", &n));
}

TEST(ParseTest, QuoteEscapesAndTruncates) {
  EXPECT_EQ(quote("a\"b\n"), "\"a\\\"b\\x0a\"");
  EXPECT_EQ(quote("abcdef", 3), "\"abc...\"");
}

TEST(SuggestTest, ClosestWithinReach) {
  std::string_view names[] = {"ports.http", "ports.rpc", "datacenter"};
  EXPECT_EQ(closest("ports.htp", names), "ports.http");
  EXPECT_EQ(closest("datacentre", names), "datacenter");
  EXPECT_EQ(closest("zzz", names), "");
  EXPECT_EQ(edit_distance("kitten", "sitting", 10), 3u);
  EXPECT_EQ(edit_distance("a", "abcdefgh", 2), 3u);
}

}  // namespace
}  // namespace config
