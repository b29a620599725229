// Proves an allocation's network assignment: reserved ports as given and refused when another
// allocation holds them, dynamic ports from Nomad's range and never one held, the lowest free
// bridge address (never the network, gateway or broadcast; exhaustion is an error), the stored
// form round-trips and hostile stored text is refused, and the mappings cover TCP and UDP at the
// namespace's port.
#include "agent/supervisor/alloc_network.h"

#include <gtest/gtest.h>

namespace supervisor {
namespace {

constexpr uint32_t ip(uint32_t a, uint32_t b, uint32_t c, uint32_t d) { return (a << 24) | (b << 16) | (c << 8) | d; }

sched::Network bridge_network() {
  sched::Network n;
  n.mode = "bridge";
  n.reserved_ports = {{"web", 8080, 80}};
  n.dynamic_ports = {{"http", 0, 9000}, {"admin", 0, 0}};
  return n;
}

const hal::Bridge kBridge{"weft0", kBridgeGateway, kBridgePrefixLen};

TEST(AllocNetwork, AssignsPortsAndTheLowestFreeAddress) {
  base::Prng prng(7);
  NetworkUse used;
  used.addresses = {ip(172, 26, 64, 2)};
  auto n = assign_network(bridge_network(), used, kBridge, prng);
  ASSERT_TRUE(n.is_ok()) << n.status().message();
  EXPECT_EQ(n->mode, "bridge");
  EXPECT_EQ(n->address, ip(172, 26, 64, 3));
  ASSERT_EQ(n->ports.size(), 3u);
  EXPECT_EQ(n->ports[0], (PortAssignment{"web", 8080, 80}));
  EXPECT_EQ(n->port("web")->inside(), 80);
  for (const char* label : {"http", "admin"}) {
    const PortAssignment* p = n->port(label);
    ASSERT_NE(p, nullptr);
    EXPECT_GE(p->value, kDynamicPortMin);
    EXPECT_LE(p->value, kDynamicPortMax);
  }
  EXPECT_EQ(n->port("http")->inside(), 9000);
  EXPECT_EQ(n->port("admin")->inside(), n->port("admin")->value);
  EXPECT_NE(n->port("http")->value, n->port("admin")->value);
  EXPECT_EQ(n->port("nope"), nullptr);
}

TEST(AllocNetwork, HostModeHasNoAddress) {
  base::Prng prng(1);
  sched::Network want = bridge_network();
  want.mode = "host";
  auto n = assign_network(want, {}, kBridge, prng);
  ASSERT_TRUE(n.is_ok());
  EXPECT_EQ(n->address, 0u);
  EXPECT_TRUE(port_mappings(*n).empty()) << "host mode maps nothing";
}

TEST(AllocNetwork, ReservedPortHeldElsewhereIsRefused) {
  base::Prng prng(1);
  NetworkUse used;
  used.ports = {8080};
  auto n = assign_network(bridge_network(), used, kBridge, prng);
  ASSERT_FALSE(n.is_ok());
  EXPECT_NE(n.status().message().find("port 8080 (web) is held by another allocation"), std::string::npos);
}

// Every port but one of the range is held: each seed still finds the one left.
TEST(AllocNetwork, DynamicPortsNeverCollide) {
  NetworkUse used;
  for (int32_t p = kDynamicPortMin; p <= kDynamicPortMax; ++p) {
    if (p != 31234) used.ports.insert(p);
  }
  sched::Network want;
  want.dynamic_ports = {{"only", 0, 0}};
  for (uint64_t seed = 0; seed < 20; ++seed) {
    base::Prng prng(seed);
    auto n = assign_network(want, used, kBridge, prng);
    ASSERT_TRUE(n.is_ok());
    EXPECT_EQ(n->ports[0].value, 31234);
  }
  used.ports.insert(31234);
  base::Prng prng(3);
  auto full = assign_network(want, used, kBridge, prng);
  ASSERT_FALSE(full.is_ok());
  EXPECT_EQ(full.status().code(), base::Code::kResourceExhausted);
}

TEST(AllocNetwork, AddressesSkipGatewayAndRunOut) {
  const hal::Bridge tiny{"weft0", ip(10, 9, 0, 1), 30};  // .0 network, .1 gateway, .2 free, .3 broadcast
  sched::Network want;
  want.mode = "bridge";
  base::Prng prng(1);
  auto first = assign_network(want, {}, tiny, prng);
  ASSERT_TRUE(first.is_ok());
  EXPECT_EQ(first->address, ip(10, 9, 0, 2));
  NetworkUse used;
  used.addresses = {first->address};
  auto none = assign_network(want, used, tiny, prng);
  ASSERT_FALSE(none.is_ok());
  EXPECT_NE(none.status().message().find("no address left on the bridge's subnet 10.9.0.0/30"), std::string::npos);
}

TEST(AllocNetwork, StoredFormRoundTripsAndRefusesJunk) {
  base::Prng prng(5);
  auto n = assign_network(bridge_network(), {}, kBridge, prng);
  ASSERT_TRUE(n.is_ok());
  auto back = decode_alloc_network(encode_alloc_network(*n));
  ASSERT_TRUE(back.is_ok()) << encode_alloc_network(*n);
  EXPECT_EQ(*back, *n);
  EXPECT_EQ(encode_alloc_network(AllocNetwork{}), "");
  auto empty = decode_alloc_network("");
  ASSERT_TRUE(empty.is_ok());
  EXPECT_TRUE(empty->mode.empty());
  for (const char* junk : {"{", "[]", R"({"Mode":"overlay"})", R"({"Mode":"bridge"})", R"({"Mode":"bridge","IP":"::1"})",
                           R"({"Mode":"bridge","IP":"1.2.3.4:5"})", R"({"Mode":"host","Ports":[{"Label":"a","Value":0,"To":0}]})",
                           R"({"Mode":"host","Ports":[{"Label":"a","Value":70000,"To":0}]})", R"({"Mode":"host","Ports":[{"Value":1,"To":0}]})"}) {
    EXPECT_FALSE(decode_alloc_network(junk).is_ok()) << junk;
  }
}

TEST(AllocNetwork, MappingsCoverTcpAndUdpAtTheInsidePort) {
  AllocNetwork n;
  n.mode = "bridge";
  n.address = ip(172, 26, 64, 9);
  n.ports = {{"web", 25000, 80}, {"raw", 25001, 0}};
  std::vector<hal::PortMapping> m = port_mappings(n);
  ASSERT_EQ(m.size(), 4u);
  EXPECT_FALSE(m[0].udp);
  EXPECT_TRUE(m[1].udp);
  EXPECT_EQ(m[0].host_port, 25000);
  EXPECT_EQ(m[0].port, 80);
  EXPECT_EQ(m[0].address, n.address);
  EXPECT_EQ(m[2].port, 25001) << "To 0 is the host port";
  EXPECT_EQ(ipv4_text(n.address), "172.26.64.9");
  uint32_t parsed = 0;
  EXPECT_TRUE(parse_ipv4("172.26.64.9", &parsed));
  EXPECT_EQ(parsed, n.address);
  EXPECT_FALSE(parse_ipv4("172.26.64", &parsed));
}

}  // namespace
}  // namespace supervisor
