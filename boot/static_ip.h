// boot::parse_kernel_ip -- a static address from the kernel command line's `ip=` parameter
// (issue 7 item 1: "or apply static address config"), in the kernel's own nfsroot format, which
// dracut and installers also read (Debian's kernel does not apply it itself: no CONFIG_IP_PNP):
//
//   ip=<client-ip>:<server-ip>:<gw-ip>:<netmask>:<hostname>:<device>:<autoconf>:<dns0>:<dns1>
//
// Fields may be empty; trailing ones may be left out. A static address needs client-ip and
// autoconf off/none/empty; `ip=dhcp` (or autoconf dhcp/on/any) asks for DHCP, the default. The
// netmask may be dotted (255.255.255.0) or a prefix length (24); with none, /24. device "" is
// the first link. Everything is validated: a malformed value is an error naming the field, and
// the node then uses DHCP and says why.
// Threading: pure function.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/base/status.h"

namespace boot {

struct KernelIp {
  bool dhcp = true;  // no static address: lease one
  uint32_t address = 0;  // host byte order
  uint8_t prefix_len = 24;
  uint32_t gateway = 0;
  std::string hostname;
  std::string device;  // "": the first link
  std::vector<uint32_t> dns;
};

base::Result<KernelIp> parse_kernel_ip(std::string_view value);

}  // namespace boot
