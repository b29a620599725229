// SockAddr parsing and formatting, platform-independent (no inet_pton: the same code serves the
// POSIX, Windows, lwIP and simulated ports). See hal/net.h for the contract.
#include <cstdio>
#include <string>

#include "hal/net.h"

namespace hal {

namespace {

using base::Code;

bool parse_u16(std::string_view s, uint16_t* out) {
  if (s.empty() || s.size() > 5) return false;
  uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v > 65535) return false;
  *out = static_cast<uint16_t>(v);
  return true;
}

bool parse_ipv4(std::string_view s, uint8_t out[4]) {
  int part = 0;
  size_t i = 0;
  while (part < 4) {
    size_t start = i;
    uint32_t v = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      v = v * 10 + static_cast<uint32_t>(s[i] - '0');
      if (v > 255 || i - start >= 3) return false;
      ++i;
    }
    if (i == start) return false;
    // No leading zeros: "010" is octal to some parsers; refuse the ambiguity.
    if (i - start > 1 && s[start] == '0') return false;
    out[part++] = static_cast<uint8_t>(v);
    if (part < 4) {
      if (i >= s.size() || s[i] != '.') return false;
      ++i;
    }
  }
  return i == s.size();
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 4291 §2.2 text forms, including "::" and a trailing dotted IPv4. No zone ids.
bool parse_ipv6(std::string_view s, uint8_t out[16]) {
  uint16_t groups[8] = {};
  int n = 0;
  int gap = -1;  // index in groups where "::" stands
  size_t i = 0;
  if (s.size() < 2) return false;
  if (s[0] == ':') {
    if (s[1] != ':') return false;
    gap = 0;
    i = 2;
    if (i == s.size()) {
      for (int k = 0; k < 16; ++k) out[k] = 0;
      return true;
    }
  }
  while (i < s.size()) {
    if (n >= 8) return false;
    // A dotted IPv4 tail takes two groups.
    size_t rest_dot = s.find('.', i);
    size_t next_colon = s.find(':', i);
    if (rest_dot != std::string_view::npos && (next_colon == std::string_view::npos || rest_dot < next_colon)) {
      uint8_t v4[4];
      if (n > 6 || !parse_ipv4(s.substr(i), v4)) return false;
      groups[n++] = static_cast<uint16_t>(v4[0] << 8 | v4[1]);
      groups[n++] = static_cast<uint16_t>(v4[2] << 8 | v4[3]);
      i = s.size();
      break;
    }
    uint32_t v = 0;
    size_t start = i;
    while (i < s.size() && hex_value(s[i]) >= 0) {
      v = v * 16 + static_cast<uint32_t>(hex_value(s[i]));
      if (i - start >= 4) return false;
      ++i;
    }
    if (i == start) return false;
    groups[n++] = static_cast<uint16_t>(v);
    if (i == s.size()) break;
    if (s[i] != ':') return false;
    ++i;
    if (i < s.size() && s[i] == ':') {
      if (gap >= 0) return false;  // only one "::"
      gap = n;
      ++i;
      if (i == s.size()) break;
    } else if (i == s.size()) {
      return false;  // trailing single ':'
    }
  }
  if (gap < 0 && n != 8) return false;
  if (gap >= 0 && n > 7) return false;
  uint16_t full[8] = {};
  if (gap < 0) {
    for (int k = 0; k < 8; ++k) full[k] = groups[k];
  } else {
    int tail = n - gap;
    for (int k = 0; k < gap; ++k) full[k] = groups[k];
    for (int k = 0; k < tail; ++k) full[8 - tail + k] = groups[gap + k];
  }
  for (int k = 0; k < 8; ++k) {
    out[2 * k] = static_cast<uint8_t>(full[k] >> 8);
    out[2 * k + 1] = static_cast<uint8_t>(full[k] & 0xff);
  }
  return true;
}

std::string format_ipv6(const std::array<uint8_t, 16>& ip) {
  uint16_t g[8];
  for (int k = 0; k < 8; ++k) g[k] = static_cast<uint16_t>(ip[2 * k] << 8 | ip[2 * k + 1]);
  // RFC 5952: compress the longest run (>= 2) of zero groups, the first if tied.
  int best = -1, best_len = 0;
  for (int k = 0; k < 8;) {
    if (g[k] != 0) { ++k; continue; }
    int j = k;
    while (j < 8 && g[j] == 0) ++j;
    if (j - k > best_len && j - k >= 2) { best = k; best_len = j - k; }
    k = j;
  }
  std::string out;
  char buf[8];
  for (int k = 0; k < 8; ++k) {
    if (k == best) {
      out += "::";
      k += best_len - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    std::snprintf(buf, sizeof buf, "%x", g[k]);
    out += buf;
  }
  return out;
}

}  // namespace

SockAddr SockAddr::ipv4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port) {
  SockAddr s;
  s.family = AddrFamily::kIpv4;
  s.ip[0] = a; s.ip[1] = b; s.ip[2] = c; s.ip[3] = d;
  s.port = port;
  return s;
}

SockAddr SockAddr::ipv6_loopback(uint16_t port) {
  SockAddr s;
  s.family = AddrFamily::kIpv6;
  s.ip[15] = 1;
  s.port = port;
  return s;
}

SockAddr SockAddr::unix_path(std::string_view path) {
  SockAddr s;
  s.family = AddrFamily::kUnix;
  s.path = std::string(path);
  return s;
}

base::Result<SockAddr> SockAddr::parse(std::string_view text, uint16_t default_port) {
  std::string shown(text.substr(0, 64));
  if (text.empty()) return base::error(Code::kInvalidArgument, "empty address");
  if (text.substr(0, 5) == "unix:" || text[0] == '/') {
    std::string_view path = text[0] == '/' ? text : text.substr(5);
    if (path.empty() || path[0] != '/') {
      return base::error(Code::kInvalidArgument, "unix socket path must be absolute: \"%s\"", shown.c_str());
    }
    if (path.size() > kUnixPathBytesMax) {
      return base::error(Code::kInvalidArgument, "unix socket path longer than %zu bytes", kUnixPathBytesMax);
    }
    return unix_path(path);
  }
  SockAddr out;
  std::string_view host = text;
  std::string_view port_text;
  if (text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return base::error(Code::kInvalidArgument, "missing ']' in \"%s\"", shown.c_str());
    }
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return base::error(Code::kInvalidArgument, "junk after ']' in \"%s\"", shown.c_str());
      port_text = rest.substr(1);
      if (port_text.empty()) return base::error(Code::kInvalidArgument, "empty port in \"%s\"", shown.c_str());
    }
    out.family = AddrFamily::kIpv6;
    if (!parse_ipv6(host, out.ip.data())) {
      return base::error(Code::kInvalidArgument, "not an IPv6 address: \"%s\"", shown.c_str());
    }
  } else {
    size_t colons = 0;
    for (char c : text) colons += c == ':';
    if (colons == 1) {
      size_t c = text.find(':');
      host = text.substr(0, c);
      port_text = text.substr(c + 1);
      if (port_text.empty()) return base::error(Code::kInvalidArgument, "empty port in \"%s\"", shown.c_str());
    }
    if (colons > 1) {
      out.family = AddrFamily::kIpv6;
      if (!parse_ipv6(host, out.ip.data())) {
        return base::error(Code::kInvalidArgument, "not an IPv6 address: \"%s\"", shown.c_str());
      }
    } else {
      out.family = AddrFamily::kIpv4;
      if (!parse_ipv4(host, out.ip.data())) {
        return base::error(Code::kInvalidArgument,
                           "not an IP address: \"%s\" (host names are not resolved here)", shown.c_str());
      }
    }
  }
  if (!port_text.empty()) {
    if (!parse_u16(port_text, &out.port)) {
      return base::error(Code::kInvalidArgument, "bad port in \"%s\": want 0..65535", shown.c_str());
    }
  } else if (default_port != 0) {
    out.port = default_port;
  } else {
    return base::error(Code::kInvalidArgument, "missing port in \"%s\"", shown.c_str());
  }
  return out;
}

base::Result<IpNetwork> IpNetwork::parse(std::string_view text) {
  std::string shown(text.substr(0, 64));
  IpNetwork n;
  std::string_view host = text;
  std::string_view bits_text;
  const size_t slash = text.find('/');
  if (slash != std::string_view::npos) {
    host = text.substr(0, slash);
    bits_text = text.substr(slash + 1);
    if (bits_text.empty()) return base::error(Code::kInvalidArgument, "empty prefix length in \"%s\"", shown.c_str());
  }
  if (host.find(':') != std::string_view::npos) {
    n.family = AddrFamily::kIpv6;
    if (!parse_ipv6(host, n.ip.data())) {
      return base::error(Code::kInvalidArgument, "not an IPv6 network: \"%s\" (want address/prefix, like ::1/128)",
                         shown.c_str());
    }
  } else {
    n.family = AddrFamily::kIpv4;
    if (!parse_ipv4(host, n.ip.data())) {
      return base::error(Code::kInvalidArgument, "not an IP network: \"%s\" (want address/prefix, like 10.0.0.0/8)",
                         shown.c_str());
    }
  }
  const unsigned width = n.family == AddrFamily::kIpv4 ? 32 : 128;
  unsigned bits = width;
  if (!bits_text.empty()) {
    uint16_t v = 0;
    if (!parse_u16(bits_text, &v) || v > width || (bits_text.size() > 1 && bits_text[0] == '0')) {
      return base::error(Code::kInvalidArgument, "bad prefix length in \"%s\": want 0..%u", shown.c_str(), width);
    }
    bits = v;
  }
  n.prefix_bits = static_cast<uint8_t>(bits);
  IpNetwork masked = n;
  for (unsigned i = 0; i < width / 8; ++i) {
    const unsigned keep = bits >= (i + 1) * 8 ? 8 : (bits > i * 8 ? bits - i * 8 : 0);
    masked.ip[i] = static_cast<uint8_t>(n.ip[i] & (keep == 0 ? 0 : 0xFF << (8 - keep)));
  }
  if (masked.ip != n.ip) {
    return base::error(Code::kInvalidArgument, "host bits set in \"%s\": did you mean %s?", shown.c_str(),
                       masked.to_string().c_str());
  }
  return n;
}

bool IpNetwork::contains(const SockAddr& addr) const {
  const uint8_t* a = addr.ip.data();
  if (addr.family != family) {
    // ::ffff:a.b.c.d against an IPv4 network (RFC 4291 §2.5.5.2).
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    if (family != AddrFamily::kIpv4 || addr.family != AddrFamily::kIpv6) return false;
    for (int i = 0; i < 12; ++i) {
      if (a[i] != kMapped[i]) return false;
    }
    a += 12;
  } else if (family != AddrFamily::kIpv4 && family != AddrFamily::kIpv6) {
    return false;
  }
  unsigned bits = prefix_bits;
  for (unsigned i = 0; bits > 0; ++i) {
    const unsigned take = bits >= 8 ? 8 : bits;
    const uint8_t mask = static_cast<uint8_t>(0xFF << (8 - take));
    if ((a[i] & mask) != (ip[i] & mask)) return false;
    bits -= take;
  }
  return true;
}

std::string IpNetwork::to_string() const {
  SockAddr s;
  s.family = family;
  s.ip = ip;
  return s.host_string() + "/" + std::to_string(prefix_bits);
}

std::string SockAddr::host_string() const {
  switch (family) {
    case AddrFamily::kNone: return "";
    case AddrFamily::kUnix: return path;
    case AddrFamily::kIpv4: {
      char buf[16];
      std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", ip[0], ip[1], ip[2], ip[3]);
      return buf;
    }
    case AddrFamily::kIpv6: return format_ipv6(ip);
  }
  return "";
}

std::string SockAddr::to_string() const {
  switch (family) {
    case AddrFamily::kNone: return "(none)";
    case AddrFamily::kUnix: return "unix:" + path;
    case AddrFamily::kIpv4: return host_string() + ":" + std::to_string(port);
    case AddrFamily::kIpv6: return "[" + host_string() + "]:" + std::to_string(port);
  }
  return "";
}

bool SockAddr::is_loopback() const {
  switch (family) {
    case AddrFamily::kIpv4: return ip[0] == 127;
    case AddrFamily::kIpv6: {
      for (int k = 0; k < 15; ++k) if (ip[k] != 0) return false;
      return ip[15] == 1;
    }
    case AddrFamily::kUnix: return true;
    case AddrFamily::kNone: return false;
  }
  return false;
}

}  // namespace hal
