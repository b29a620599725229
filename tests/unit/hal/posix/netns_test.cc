// Proves PosixNetNamespaces: the nftables script maps each port to its namespace's address for
// packets to the node's own addresses and masquerades the bridge's subnet; and, as root with
// nft and iproute2 present, for real inside a network namespace of the test's own (a thread that
// unshares; every link, table and namespace it makes lives and dies there): the bridge gets its
// gateway, a namespace is pinned with eth0 holding its address and a default route, its host
// link is on the bridge, creating it again keeps it, the mappings land in the kernel's table,
// and destroy() removes the link and the pin.
#include "hal/posix/posix_netns.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <thread>

#include "test_util.h"

namespace {

using hal::posix::PosixNetNamespaces;
using hal::posix::port_mapping_script;

constexpr uint32_t ip(uint32_t a, uint32_t b, uint32_t c, uint32_t d) { return (a << 24) | (b << 16) | (c << 8) | d; }

TEST(PosixNetns, ScriptMapsPortsAndMasqueradesTheSubnet) {
  const hal::Bridge bridge{"weft0", ip(172, 26, 64, 1), 20};
  std::string s = port_mapping_script(bridge, {{false, 25000, ip(172, 26, 64, 2), 80}, {true, 25000, ip(172, 26, 64, 2), 80}});
  EXPECT_EQ(s.rfind("table ip weft\ndelete table ip weft\n", 0), 0u) << "replaced whole, atomically";
  EXPECT_NE(s.find("tcp dport 25000 dnat to 172.26.64.2:80"), std::string::npos);
  EXPECT_NE(s.find("udp dport 25000 dnat to 172.26.64.2:80"), std::string::npos);
  EXPECT_NE(s.find("type nat hook prerouting priority dstnat"), std::string::npos);
  EXPECT_NE(s.find("type nat hook output priority -100"), std::string::npos);
  EXPECT_NE(s.find("fib daddr type local jump ports"), std::string::npos);
  EXPECT_NE(s.find("ip saddr 172.26.64.0/20 oifname != \"weft0\" masquerade"), std::string::npos);
  EXPECT_NE(s.find("ip saddr 127.0.0.0/8 oifname \"weft0\" masquerade"), std::string::npos);
}

TEST(PosixNetns, BadNamesAreRefused) {
  PosixNetNamespaces ns("/nonexistent");
  EXPECT_FALSE(ns.setup_bridge({"a-name-longer-than-15", 1, 24}).is_ok());
  EXPECT_FALSE(ns.create("../x", {"weft0", 1, 24}, "wv1", 2).is_ok());
  EXPECT_FALSE(ns.create("x", {"weft0", 1, 24}, "a/b", 2).is_ok());
}

bool sh(const std::string& cmd) { return std::system(cmd.c_str()) == 0; }

TEST(PosixNetns, RealNamespaceOnABridge) {
  if (geteuid() != 0 || !sh("command -v nft >/dev/null && command -v ip >/dev/null && command -v nsenter >/dev/null")) {
    GTEST_SKIP() << "needs root, nft, ip and nsenter";
  }
  posix_test::TempDir dir;
  const std::string pins = dir.join("pins");
  // Everything below runs on one thread moved into a network namespace of its own; the
  // programs it starts (ip, nft) inherit that namespace.
  std::thread t([&] {
    ASSERT_EQ(::unshare(CLONE_NEWNET), 0);
    PosixNetNamespaces ns(pins);
    const hal::Bridge bridge{"wtest0", ip(10, 77, 0, 1), 24};
    auto s = ns.setup_bridge(bridge);
    ASSERT_TRUE(s.is_ok()) << s.message();
    EXPECT_TRUE(ns.setup_bridge(bridge).is_ok()) << "idempotent";
    EXPECT_TRUE(sh("ip -4 addr show wtest0 | grep -q 'inet 10.77.0.1/24'"));
    s = ns.create("a1", bridge, "wvtest1", ip(10, 77, 0, 2));
    ASSERT_TRUE(s.is_ok()) << s.message();
    const std::string pin = ns.path("a1");
    EXPECT_TRUE(sh("ip link show wvtest1 | grep -q 'master wtest0'"));
    EXPECT_TRUE(sh("nsenter --net=" + pin + " ip -4 addr show eth0 | grep -q 'inet 10.77.0.2/24'"));
    EXPECT_TRUE(sh("nsenter --net=" + pin + " ip route | grep -q 'default via 10.77.0.1 dev eth0'"));
    EXPECT_TRUE(sh("nsenter --net=" + pin + " ip -br link show lo | grep -q UNKNOWN")) << "loopback is up";
    EXPECT_TRUE(ns.create("a1", bridge, "wvtest1", ip(10, 77, 0, 2)).is_ok()) << "a pinned namespace is kept";
    s = ns.map_ports(bridge, {{false, 25000, ip(10, 77, 0, 2), 80}});
    ASSERT_TRUE(s.is_ok()) << s.message();
    EXPECT_TRUE(sh("nft list table ip weft | grep -q 'tcp dport 25000 dnat to 10.77.0.2:80'"));
    ASSERT_TRUE(ns.map_ports(bridge, {}).is_ok());
    EXPECT_FALSE(sh("nft list table ip weft | grep -q 'dport 25000'")) << "replaced whole";
    s = ns.destroy("a1", "wvtest1");
    EXPECT_TRUE(s.is_ok()) << s.message();
    EXPECT_FALSE(sh("ip link show wvtest1 >/dev/null 2>&1"));
    EXPECT_NE(::access(pin.c_str(), F_OK), 0);
    EXPECT_TRUE(ns.destroy("a1", "wvtest1").is_ok()) << "absent is fine";
  });
  t.join();
}

}  // namespace
