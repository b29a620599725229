// hal/netns.h -- allocation network namespaces on a node bridge, with host ports mapped into
// them (issue 6 item 6: a group's network Mode "bridge", as Nomad's bridge networking builds it
// with its CNI plugins: bridge, host-local addresses, portmap).
//
// Contract:
//   - setup_bridge() makes the bridge `bridge.name` if absent, gives it `gateway`/`prefix_len`
//     (kept when present) and brings it up; it also turns on IPv4 forwarding and route_localnet
//     on the bridge (so the node's own 127.0.0.1 reaches mapped ports). Idempotent.
//   - create() makes the network namespace `name` (one path segment, [A-Za-z0-9._-]) and pins it
//     at path(name) (a bind mount of the namespace, as `ip netns add` does), with loopback up, an
//     "eth0" holding `address`/prefix_len with a default route via the gateway, and its peer,
//     `host_link` (at most 15 bytes), enslaved to the bridge. A namespace already pinned there is
//     kept as it is (an agent restarted while its tasks run). Tasks join it by path: an exec
//     task through hal::TaskSpawn::netns, a container by its runtime spec.
//   - destroy() removes the host link and unpins the namespace (it ends with its last process);
//     OK when absent.
//   - map_ports() replaces the whole set of port mappings with `mappings`, atomically: a TCP or
//     UDP packet to any of the node's own addresses (including loopback) at `host_port` goes to
//     `address`:`port`, and the namespaces' traffic leaving the node is masqueraded. An empty
//     set removes every mapping. kUnimplemented when the node cannot (no nftables).
// Threading: the loop thread (the one that reaps orphans: map_ports() runs a program and waits
// for it).
// Not here: IPv6, hairpin traffic from one namespace to another through a mapped port, CNI
// plugins, firewall policy beyond the mappings.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "agent/base/status.h"

namespace hal {

struct Bridge {
  std::string name = "weft0";
  uint32_t gateway = 0;  // IPv4, host byte order
  uint8_t prefix_len = 20;
};

struct PortMapping {
  bool udp = false;
  uint16_t host_port = 0;
  uint32_t address = 0;  // the namespace's IPv4, host byte order
  uint16_t port = 0;
};

class NetNamespaces {
 public:
  virtual ~NetNamespaces() = default;
  [[nodiscard]] virtual base::Status setup_bridge(const Bridge& bridge) = 0;
  [[nodiscard]] virtual base::Status create(const std::string& name, const Bridge& bridge, const std::string& host_link,
                                            uint32_t address) = 0;
  [[nodiscard]] virtual base::Status destroy(const std::string& name, const std::string& host_link) = 0;
  [[nodiscard]] virtual base::Status map_ports(const Bridge& bridge, const std::vector<PortMapping>& mappings) = 0;
  virtual std::string path(const std::string& name) const = 0;
};

}  // namespace hal
