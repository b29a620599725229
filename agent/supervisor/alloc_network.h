// supervisor::AllocNetwork -- an allocation's network as this node assigned it (issue 6 item 6):
// its ports (reserved ones as the job gives them, dynamic ones picked here) and, in Mode
// "bridge", the address of its network namespace on the node's bridge.
//
// Assignment (assign_network): a reserved port must not be held by another allocation of the
// node; a dynamic port is drawn at random from [kDynamicPortMin, kDynamicPortMax] (Nomad's
// range) among those no allocation holds, then the lowest free one if draws keep colliding; the
// bridge address is the lowest of the bridge's subnet that is not the network, the gateway, the
// broadcast or another allocation's. An allocation keeps what it was given for its whole life
// (the record is stored with it: the same ports and address after an agent restart or reboot).
//
// Inside the namespace a port is `To` (or its host value when To is 0); on the node it is the
// host value, mapped by hal::NetNamespaces::map_ports (TCP and UDP both, as Nomad maps them).
// Threading: pure functions.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "agent/base/random.h"
#include "agent/base/status.h"
#include "agent/sched/job.h"
#include "hal/netns.h"

namespace supervisor {

inline constexpr int32_t kDynamicPortMin = 20000;
inline constexpr int32_t kDynamicPortMax = 32000;
// The node bridge's default subnet: Nomad's bridge network, 172.26.64.0/20, gateway .1.
inline constexpr uint32_t kBridgeGateway = (172u << 24) | (26u << 16) | (64u << 8) | 1u;
inline constexpr uint8_t kBridgePrefixLen = 20;

struct PortAssignment {
  std::string label;
  int32_t value = 0;  // on the node
  int32_t to = 0;     // in the namespace (0: value)
  int32_t inside() const { return to != 0 ? to : value; }
  bool operator==(const PortAssignment&) const = default;
};

struct AllocNetwork {
  std::string mode;      // "host" or "bridge"; "" when the group has no network
  uint32_t address = 0;  // bridge: the namespace's IPv4, host byte order
  std::vector<PortAssignment> ports;
  bool operator==(const AllocNetwork&) const = default;
  const PortAssignment* port(const std::string& label) const;
};

// What other allocations of the node hold.
struct NetworkUse {
  std::set<int32_t> ports;
  std::set<uint32_t> addresses;
};

base::Result<AllocNetwork> assign_network(const sched::Network& want, const NetworkUse& used, const hal::Bridge& bridge,
                                          base::Prng& prng);

// The stored form: {"Mode":"bridge","IP":"172.26.64.2","Ports":[{"Label":..,"Value":..,"To":..}]}
// ("" for no network). decode refuses what encode would not write.
std::string encode_alloc_network(const AllocNetwork& n);
base::Result<AllocNetwork> decode_alloc_network(const std::string& text);

// The mappings a bridge allocation needs (TCP and UDP for each port); none for host mode.
std::vector<hal::PortMapping> port_mappings(const AllocNetwork& n);

std::string ipv4_text(uint32_t address);
bool parse_ipv4(const std::string& text, uint32_t* out);

}  // namespace supervisor
