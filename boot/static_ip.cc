// See static_ip.h.
#include "boot/static_ip.h"

#include <charconv>

namespace boot {

namespace {

bool parse_ipv4(std::string_view s, uint32_t* out) {
  uint32_t v = 0;
  for (int part = 0; part < 4; ++part) {
    size_t dot = part < 3 ? s.find('.') : s.size();
    if (dot == std::string_view::npos) return false;
    std::string_view p = s.substr(0, dot);
    unsigned n = 0;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), n);
    if (p.empty() || p.size() > 3 || ec != std::errc() || end != p.data() + p.size() || n > 255) return false;
    v = (v << 8) | n;
    s.remove_prefix(part < 3 ? dot + 1 : dot);
  }
  *out = v;
  return s.empty();
}

bool valid_name(std::string_view s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_')) return false;
  }
  return true;
}

}  // namespace

base::Result<KernelIp> parse_kernel_ip(std::string_view value) {
  KernelIp ip;
  std::vector<std::string_view> f;
  for (;;) {
    if (f.size() == 10) return base::error(base::Code::kInvalidArgument, "ip=: more than 10 fields");
    size_t colon = value.find(':');
    f.push_back(value.substr(0, colon));
    if (colon == std::string_view::npos) break;
    value.remove_prefix(colon + 1);
  }
  auto field = [&](size_t i) { return i < f.size() ? f[i] : std::string_view(); };
  auto bad = [](const char* what) { return base::error(base::Code::kInvalidArgument, "ip=: bad %s", what); };
  if (f.size() == 1) {
    const std::string_view only = f[0];
    if (only == "dhcp" || only == "on" || only == "any" || only == "" || only == "bootp") return ip;
    if (only == "off" || only == "none") {
      ip.dhcp = false;
      return ip;
    }
  }
  const std::string_view autoconf = field(6);
  if (autoconf == "dhcp" || autoconf == "on" || autoconf == "any" || autoconf == "bootp") {
    ip.dhcp = true;
  } else if (autoconf == "off" || autoconf == "none") {
    ip.dhcp = false;
  } else if (autoconf.empty()) {
    ip.dhcp = field(0).empty();
  } else {
    return bad("autoconf (want off, none, dhcp, on or any)");
  }
  if (!field(0).empty() && !parse_ipv4(field(0), &ip.address)) return bad("client address");
  if (!field(2).empty() && !parse_ipv4(field(2), &ip.gateway)) return bad("gateway");
  if (std::string_view mask = field(3); !mask.empty()) {
    uint32_t m = 0;
    unsigned len = 0;
    if (parse_ipv4(mask, &m)) {
      while (len < 32 && (m & (0x80000000u >> len)) != 0) ++len;
      if (len < 32 && (m << len) != 0) return bad("netmask (not contiguous)");
    } else {
      auto [end, ec] = std::from_chars(mask.data(), mask.data() + mask.size(), len);
      if (ec != std::errc() || end != mask.data() + mask.size() || len > 32) return bad("netmask");
    }
    ip.prefix_len = static_cast<uint8_t>(len);
  }
  if (std::string_view h = field(4); !h.empty()) {
    if (!valid_name(h, 63)) return bad("hostname");
    ip.hostname = std::string(h);
  }
  if (std::string_view d = field(5); !d.empty()) {
    if (!valid_name(d, 15)) return bad("device");
    ip.device = std::string(d);
  }
  for (size_t i : {size_t{7}, size_t{8}}) {
    uint32_t dns = 0;
    if (field(i).empty()) continue;
    if (!parse_ipv4(field(i), &dns)) return bad("DNS server");
    ip.dns.push_back(dns);
  }
  if (!ip.dhcp && ip.address == 0 && !(f.size() == 1)) return bad("client address (a static address needs one)");
  return ip;
}

}  // namespace boot
