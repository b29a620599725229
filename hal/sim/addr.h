// hal/sim/addr.h -- small address predicates the simulator's network uses (internal).
//
// Kept here rather than using SockAddr's own is_loopback() so that routing in the simulator
// has no dependency on formatting code and says exactly what it treats as "this node".
// Plain functions on values; no state.
#pragma once

#include <cstdint>

#include "hal/net.h"

namespace sim {

inline bool is_ip(const hal::SockAddr& a) {
  return a.family == hal::AddrFamily::kIpv4 || a.family == hal::AddrFamily::kIpv6;
}

inline bool is_unspecified(const hal::SockAddr& a) {
  if (!is_ip(a)) return false;
  const size_t n = a.family == hal::AddrFamily::kIpv4 ? 4 : 16;
  for (size_t i = 0; i < n; ++i) {
    if (a.ip[i]) return false;
  }
  return true;
}

// 127.0.0.0/8 or ::1.
inline bool is_loopback_ip(const hal::SockAddr& a) {
  if (a.family == hal::AddrFamily::kIpv4) return a.ip[0] == 127;
  if (a.family == hal::AddrFamily::kIpv6) {
    for (size_t i = 0; i < 15; ++i) {
      if (a.ip[i]) return false;
    }
    return a.ip[15] == 1;
  }
  return false;
}

inline bool same_ip(const hal::SockAddr& a, const hal::SockAddr& b) { return a.family == b.family && a.ip == b.ip; }

// An IPv4 SockAddr built field by field (the same value SockAddr::ipv4 gives).
inline hal::SockAddr ipv4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port) {
  hal::SockAddr s;
  s.family = hal::AddrFamily::kIpv4;
  s.ip[0] = a;
  s.ip[1] = b;
  s.ip[2] = c;
  s.ip[3] = d;
  s.port = port;
  return s;
}

}  // namespace sim
