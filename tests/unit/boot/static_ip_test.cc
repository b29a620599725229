// Proves ip= parsing in the kernel's nfsroot format: the full form, short forms, dhcp and off,
// dotted and numeric netmasks, and each malformed field refused by name.
#include "boot/static_ip.h"

#include <gtest/gtest.h>

namespace boot {
namespace {

constexpr uint32_t ip4(uint32_t a, uint32_t b, uint32_t c, uint32_t d) { return (a << 24) | (b << 16) | (c << 8) | d; }

TEST(KernelIp, FullForm) {
  auto ip = parse_kernel_ip("10.0.0.5::10.0.0.1:255.255.255.0:node1:eth0:off:10.0.0.53:1.1.1.1");
  ASSERT_TRUE(ip.is_ok()) << ip.status().message();
  EXPECT_FALSE(ip->dhcp);
  EXPECT_EQ(ip->address, ip4(10, 0, 0, 5));
  EXPECT_EQ(ip->gateway, ip4(10, 0, 0, 1));
  EXPECT_EQ(ip->prefix_len, 24);
  EXPECT_EQ(ip->hostname, "node1");
  EXPECT_EQ(ip->device, "eth0");
  EXPECT_EQ(ip->dns, (std::vector<uint32_t>{ip4(10, 0, 0, 53), ip4(1, 1, 1, 1)}));
}

TEST(KernelIp, ShortFormsAndDhcp) {
  auto a = parse_kernel_ip("192.168.1.9::192.168.1.1:16");
  ASSERT_TRUE(a.is_ok());
  EXPECT_FALSE(a->dhcp);
  EXPECT_EQ(a->prefix_len, 16);
  EXPECT_EQ(a->device, "");
  auto b = parse_kernel_ip("172.16.0.2");
  ASSERT_TRUE(b.is_ok());
  EXPECT_FALSE(b->dhcp);
  EXPECT_EQ(b->prefix_len, 24) << "no netmask: /24";
  for (const char* d : {"dhcp", "on", "any", "::::::dhcp", ":::::eth1:dhcp"}) {
    auto c = parse_kernel_ip(d);
    ASSERT_TRUE(c.is_ok()) << d;
    EXPECT_TRUE(c->dhcp) << d;
  }
  auto off = parse_kernel_ip("off");
  ASSERT_TRUE(off.is_ok());
  EXPECT_FALSE(off->dhcp);
}

TEST(KernelIp, MalformedFieldsAreNamed) {
  const std::pair<const char*, const char*> cases[] = {
      {"10.0.0.256", "client address"},   {"10.0.0.5::10.0.0:24", "gateway"},
      {"10.0.0.5:::255.0.255.0", "not contiguous"}, {"10.0.0.5:::33", "netmask"},
      {"10.0.0.5::::bad host", "hostname"}, {"10.0.0.5:::::eth0/x", "device"},
      {"10.0.0.5::::::maybe", "autoconf"}, {"10.0.0.5:::::::x", "DNS server"},
      {"::10.0.0.1:24::eth0:off", "needs one"}, {"1:2:3:4:5:6:7:8:9:10:11", "more than 10"},
  };
  for (const auto& [text, want] : cases) {
    auto r = parse_kernel_ip(text);
    ASSERT_FALSE(r.is_ok()) << text;
    EXPECT_NE(r.status().message().find(want), std::string::npos) << text << ": " << r.status().message();
  }
}

}  // namespace
}  // namespace boot
