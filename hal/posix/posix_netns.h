// hal/posix/posix_netns.h -- hal::NetNamespaces on Linux: rtnetlink for links, addresses and
// routes; a namespace made by unshare(CLONE_NEWNET) on a short-lived thread and pinned by a bind
// mount (as iproute2's `ip netns add`); nftables, through the `nft` program, for the port
// mappings.
//
// Links: the bridge and the veth pair are made with RTM_NEWLINK (kinds "bridge" and "veth", the
// peer created directly inside the namespace by IFLA_NET_NS_FD), addresses with RTM_NEWADDR and
// the namespace's default route with RTM_NEWROUTE, each request acknowledged before the next.
// The namespace side is configured over a netlink socket opened inside it: a socket stays in the
// namespace it was made in, whatever its thread does after.
//
// Port mappings: one nftables table, `ip weft`, replaced whole in one `nft -f` transaction
// (the table is declared, deleted and written again, so the swap is atomic): prerouting and
// output nat chains jump, for packets to the node's own addresses (`fib daddr type local`), to a
// chain of `tcp|udp dport H dnat to A:P` rules; postrouting masquerades the namespaces' traffic
// leaving by another link, and loopback-sourced traffic entering the bridge (route_localnet).
// The script is handed to nft on its standard input (an anonymous memory file); what nft says
// on failure is the error's message.
// Threading: see hal/netns.h. create() runs its namespace work on its own thread, joined before
// it returns.
#pragma once

#include <string>

#include "hal/netns.h"

namespace hal::posix {

class PosixNetNamespaces final : public hal::NetNamespaces {
 public:
  // Namespaces are pinned under `pin_dir`.
  explicit PosixNetNamespaces(std::string pin_dir = "/run/weft/netns") : pin_dir_(std::move(pin_dir)) {}
  [[nodiscard]] base::Status setup_bridge(const Bridge& bridge) override;
  [[nodiscard]] base::Status create(const std::string& name, const Bridge& bridge, const std::string& host_link,
                                    uint32_t address) override;
  [[nodiscard]] base::Status destroy(const std::string& name, const std::string& host_link) override;
  [[nodiscard]] base::Status map_ports(const Bridge& bridge, const std::vector<PortMapping>& mappings) override;
  std::string path(const std::string& name) const override { return pin_dir_ + "/" + name; }

 private:
  std::string pin_dir_;
};

// Brings the link `name` up in the calling thread's network namespace (boot/ uses it for the
// node's loopback and NICs).
base::Status set_link_up(const std::string& name);

// An IPv4 address on the link `name` (add or remove), and a route (destination/prefix via
// `gateway`, 0 for on-link, out of `name`): boot/'s DHCP client applies leases with them.
base::Status set_link_address(const std::string& name, uint32_t address, uint8_t prefix_len, bool add);
base::Status add_route(uint32_t destination, uint8_t prefix_len, uint32_t gateway, const std::string& name);

// The nftables script map_ports() runs (exposed for tests).
std::string port_mapping_script(const Bridge& bridge, const std::vector<PortMapping>& mappings);

}  // namespace hal::posix
