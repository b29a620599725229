// hal/posix/os_sockaddr.h -- converting hal::SockAddr to and from the kernel's sockaddr structs.
//
// Used by PosixNet only. IPv4 -> sockaddr_in, IPv6 -> sockaddr_in6 (scope id 0), a Unix path ->
// sockaddr_un (filesystem paths only: abstract-namespace names are not supported, so the same
// addresses work with lwIP and Windows' AF_UNIX). Ports are converted between host and network
// byte order here and nowhere else.
// Threading: pure functions. Not here: parsing or printing addresses (hal/common/sockaddr.cc).
#pragma once

#include <sys/socket.h>

#include "agent/base/status.h"
#include "hal/net.h"

namespace hal::posix {

struct OsSockAddr {
  sockaddr_storage storage{};
  socklen_t len = 0;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  int domain() const { return storage.ss_family; }
};

// kInvalidArgument for kNone, an empty or over-long Unix path, or a path with a NUL byte.
base::Result<OsSockAddr> to_os_sockaddr(const SockAddr& addr);

// The SockAddr for a kernel address. Unknown families give family kNone; an unnamed Unix peer
// (a client that never bound) gives kUnix with an empty path.
SockAddr from_os_sockaddr(const sockaddr* sa, socklen_t len);

}  // namespace hal::posix
