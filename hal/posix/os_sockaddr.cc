#include "hal/posix/os_sockaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include <cstddef>

namespace hal::posix {

base::Result<OsSockAddr> to_os_sockaddr(const SockAddr& addr) {
  OsSockAddr out;
  switch (addr.family) {
    case AddrFamily::kIpv4: {
      auto* sin = reinterpret_cast<sockaddr_in*>(&out.storage);
      sin->sin_family = AF_INET;
      sin->sin_port = htons(addr.port);
      memcpy(&sin->sin_addr, addr.ip.data(), 4);
      out.len = sizeof(sockaddr_in);
      return out;
    }
    case AddrFamily::kIpv6: {
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
      sin6->sin6_family = AF_INET6;
      sin6->sin6_port = htons(addr.port);
      memcpy(&sin6->sin6_addr, addr.ip.data(), 16);
      out.len = sizeof(sockaddr_in6);
      return out;
    }
    case AddrFamily::kUnix: {
      auto* sun = reinterpret_cast<sockaddr_un*>(&out.storage);
      if (addr.path.empty())
        return base::error(base::Code::kInvalidArgument, "empty unix socket path");
      if (addr.path.size() > SockAddr::kUnixPathBytesMax ||
          addr.path.size() >= sizeof(sun->sun_path)) {
        return base::error(base::Code::kInvalidArgument,
                           "unix socket path longer than %zu bytes: %s",
                           SockAddr::kUnixPathBytesMax, addr.path.c_str());
      }
      if (addr.path.find('\0') != std::string::npos) {
        return base::error(base::Code::kInvalidArgument, "unix socket path contains a NUL byte");
      }
      sun->sun_family = AF_UNIX;
      memcpy(sun->sun_path, addr.path.data(), addr.path.size());
      sun->sun_path[addr.path.size()] = '\0';
      out.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + addr.path.size() + 1);
      return out;
    }
    case AddrFamily::kNone:
      break;
  }
  return base::error(base::Code::kInvalidArgument, "socket address has no family");
}

SockAddr from_os_sockaddr(const sockaddr* sa, socklen_t len) {
  SockAddr out;
  if (len < static_cast<socklen_t>(sizeof(sa_family_t))) return out;
  switch (sa->sa_family) {
    case AF_INET: {
      if (len < static_cast<socklen_t>(sizeof(sockaddr_in))) return out;
      sockaddr_in sin;
      memcpy(&sin, sa, sizeof sin);
      out.family = AddrFamily::kIpv4;
      memcpy(out.ip.data(), &sin.sin_addr, 4);
      out.port = ntohs(sin.sin_port);
      return out;
    }
    case AF_INET6: {
      if (len < static_cast<socklen_t>(sizeof(sockaddr_in6))) return out;
      sockaddr_in6 sin6;
      memcpy(&sin6, sa, sizeof sin6);
      out.family = AddrFamily::kIpv6;
      memcpy(out.ip.data(), &sin6.sin6_addr, 16);
      out.port = ntohs(sin6.sin6_port);
      return out;
    }
    case AF_UNIX: {
      out.family = AddrFamily::kUnix;
      const size_t header = offsetof(sockaddr_un, sun_path);
      if (static_cast<size_t>(len) <= header) return out;  // unnamed
      const char* path = reinterpret_cast<const sockaddr_un*>(sa)->sun_path;
      size_t n = static_cast<size_t>(len) - header;
      // An abstract name starts with NUL; we never create one, so report it as unnamed.
      if (path[0] == '\0') return out;
      out.path.assign(path, strnlen(path, n));
      return out;
    }
    default:
      return out;
  }
}

}  // namespace hal::posix
