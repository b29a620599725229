// boot::run_dhcp -- Weft's DHCPv4 client on the node's links (issue 7 item 1): the I/O around
// boot/dhcp/client.h's sans-I/O core, run by init as a child process of its own for as long as
// the node is up (leases are renewed, rebound, and given up when they expire).
//
// Per link: one dhcp::Client and one UDP socket on port 68 bound to the link (SO_BINDTODEVICE,
// SO_BROADCAST; the client sets the broadcast flag, so replies reach the socket before the link
// has an address). Broadcasts go to 255.255.255.255:67 out of the link; unicasts (RENEWING,
// RELEASE) to the server. A lease is applied with rtnetlink (hal/posix/posix_netns.h): the
// address and prefix on the link, the default route via its router and its classless routes;
// its DNS servers are written to /etc/resolv.conf; and it is recorded in
// /run/weft/dhcp/<link> ("address/prefix router"), which init waits for before it starts the
// agent (so the agent advertises the leased address). A lost lease removes the address and the
// file. Received packets are bounded (kMessageBytesMax) and everything the core refuses is
// counted by it, not logged line by line.
// Threading: its own process, one thread.
#pragma once

#include <string>
#include <vector>

namespace boot {

inline constexpr const char* kDhcpStateDir = "/run/weft/dhcp";

// Runs until SIGTERM (then releases nothing: the node is going down and its address goes with
// it). Returns 1 when no link could be started.
int run_dhcp(const std::vector<std::string>& links);

}  // namespace boot
