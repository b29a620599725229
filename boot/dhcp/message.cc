// See message.h. Layout: names and address helpers; the decoder (areas walked into per-code
// buffers, then each known option interpreted); the encoder.
#include "boot/dhcp/message.h"

#include <cstdio>

namespace dhcp {
namespace {

uint16_t be16(std::span<const uint8_t> b, size_t at) {
  return static_cast<uint16_t>((b[at] << 8) | b[at + 1]);
}
uint32_t be32(std::span<const uint8_t> b, size_t at) {
  return (uint32_t{b[at]} << 24) | (uint32_t{b[at + 1]} << 16) | (uint32_t{b[at + 2]} << 8) |
         uint32_t{b[at + 3]};
}

// Every instance of each option code, concatenated in the order met (RFC 3396 §7).
struct Collected {
  std::array<std::string, 256> value;
  std::array<bool, 256> seen{};
};

// Walks one area [begin, end) of `b`: options until 255 or the end. `skip_overload` drops option
// 52 (it is meaningful only in the options field, RFC 2131 §4.1).
DecodeError walk_area(std::span<const uint8_t> b, size_t begin, size_t end, bool skip_overload,
                      Collected* c) {
  size_t pos = begin;
  // Each step consumes at least one byte, so the loop ends within end - begin steps.
  while (pos < end) {
    const uint8_t code = b[pos];
    if (code == kOptPad) {
      ++pos;
      continue;
    }
    if (code == kOptEnd) return DecodeError::kNone;
    if (pos + 1 >= end) return DecodeError::kOptionOverrun;
    const size_t len = b[pos + 1];
    if (pos + 2 + len > end) return DecodeError::kOptionOverrun;
    if (!(skip_overload && code == kOptOverload)) {
      c->seen[code] = true;
      c->value[code].append(reinterpret_cast<const char*>(b.data() + pos + 2), len);
    }
    pos += 2 + len;
  }
  return DecodeError::kNone;
}

uint32_t str_be32(const std::string& s, size_t at) {
  return (uint32_t{static_cast<uint8_t>(s[at])} << 24) |
         (uint32_t{static_cast<uint8_t>(s[at + 1])} << 16) |
         (uint32_t{static_cast<uint8_t>(s[at + 2])} << 8) |
         uint32_t{static_cast<uint8_t>(s[at + 3])};
}
uint16_t str_be16(const std::string& s, size_t at) {
  return static_cast<uint16_t>((static_cast<uint8_t>(s[at]) << 8) |
                               static_cast<uint8_t>(s[at + 1]));
}

// A fixed four-byte option into `out`, if present.
DecodeError get_u32(const Collected& c, uint8_t code, std::optional<uint32_t>* out) {
  if (!c.seen[code]) return DecodeError::kNone;
  if (c.value[code].size() != 4) return DecodeError::kBadOptionLength;
  *out = str_be32(c.value[code], 0);
  return DecodeError::kNone;
}

DecodeError get_u16(const Collected& c, uint8_t code, uint16_t min, std::optional<uint16_t>* out) {
  if (!c.seen[code]) return DecodeError::kNone;
  if (c.value[code].size() != 2) return DecodeError::kBadOptionLength;
  const uint16_t v = str_be16(c.value[code], 0);
  if (v < min) return DecodeError::kBadOptionValue;
  *out = v;
  return DecodeError::kNone;
}

DecodeError get_list(const Collected& c, uint8_t code, std::vector<Ipv4>* out) {
  if (!c.seen[code]) return DecodeError::kNone;
  const std::string& v = c.value[code];
  if (v.empty() || v.size() % 4 != 0) return DecodeError::kBadOptionLength;
  for (size_t at = 0; at < v.size() && out->size() < kAddressesMax; at += 4) {
    out->push_back(str_be32(v, at));
  }
  return DecodeError::kNone;
}

// A text option (RFC 2132: "minimum length is 1"), trailing NULs dropped.
DecodeError get_text(const Collected& c, uint8_t code, std::string* out) {
  if (!c.seen[code]) return DecodeError::kNone;
  if (c.value[code].empty()) return DecodeError::kBadOptionLength;
  *out = c.value[code];
  while (!out->empty() && out->back() == '\0') out->pop_back();
  return DecodeError::kNone;
}

// RFC 3442 §3: each route is a width (0..32), the destination's significant octets
// (ceil(width / 8)), then the router's four octets.
DecodeError get_classless_routes(const std::string& v, std::vector<Route>* out) {
  if (v.size() < 5) return DecodeError::kBadOptionLength;
  size_t pos = 0;
  while (pos < v.size()) {
    const uint8_t width = static_cast<uint8_t>(v[pos]);
    if (width > 32) return DecodeError::kBadClasslessRoute;
    const size_t significant = (width + 7u) / 8u;
    if (pos + 1 + significant + 4 > v.size()) return DecodeError::kBadClasslessRoute;
    Ipv4 dest = 0;
    for (size_t i = 0; i < significant; ++i) {
      dest |= uint32_t{static_cast<uint8_t>(v[pos + 1 + i])} << (24 - 8 * i);
    }
    const Route r{.destination = dest & prefix_mask(width),
                  .prefix_len = width,
                  .router = str_be32(v, pos + 1 + significant)};
    if (out->size() < kRoutesMax) out->push_back(r);
    pos += 1 + significant + 4;
  }
  return DecodeError::kNone;
}

DecodeError interpret(const Collected& c, Message* m) {
#define DHCP_TRY(expr)                                 \
  do {                                                 \
    const DecodeError dhcp_e_ = (expr);                \
    if (dhcp_e_ != DecodeError::kNone) return dhcp_e_; \
  } while (0)
  if (!c.seen[kOptMessageType]) return DecodeError::kNoMessageType;
  const std::string& t = c.value[kOptMessageType];
  if (t.size() != 1) return DecodeError::kBadOptionLength;
  const uint8_t type = static_cast<uint8_t>(t[0]);
  if (type < 1 || type > 8) return DecodeError::kBadOptionValue;
  m->type = static_cast<MessageType>(type);

  DHCP_TRY(get_u32(c, kOptServerId, &m->server_id));
  DHCP_TRY(get_u32(c, kOptRequestedIp, &m->requested_ip));
  DHCP_TRY(get_u32(c, kOptLeaseTime, &m->lease_time_s));
  DHCP_TRY(get_u32(c, kOptRenewalTime, &m->renewal_time_s));
  DHCP_TRY(get_u32(c, kOptRebindingTime, &m->rebinding_time_s));
  DHCP_TRY(get_u32(c, kOptBroadcast, &m->broadcast));
  DHCP_TRY(get_u32(c, kOptSubnetMask, &m->subnet_mask));
  if (m->subnet_mask && mask_prefix_len(*m->subnet_mask) < 0) return DecodeError::kBadOptionValue;
  DHCP_TRY(get_u16(c, kOptMtu, 68, &m->mtu));
  DHCP_TRY(get_u16(c, kOptMaxMessageSize, 576, &m->max_message_bytes));
  DHCP_TRY(get_list(c, kOptRouter, &m->routers));
  DHCP_TRY(get_list(c, kOptDnsServer, &m->dns_servers));
  DHCP_TRY(get_text(c, kOptHostname, &m->hostname));
  DHCP_TRY(get_text(c, kOptDomainName, &m->domain_name));
  DHCP_TRY(get_text(c, kOptMessage, &m->message));
  if (c.seen[kOptClientId]) {
    if (c.value[kOptClientId].size() < 2) return DecodeError::kBadOptionLength;  // RFC 2132 §9.14
    m->client_id = c.value[kOptClientId];
  }
  if (c.seen[kOptParameterList]) {
    const std::string& p = c.value[kOptParameterList];
    if (p.empty()) return DecodeError::kBadOptionLength;
    m->parameter_list.assign(p.begin(), p.end());
  }
  if (c.seen[kOptClasslessRoutes]) {
    DHCP_TRY(get_classless_routes(c.value[kOptClasslessRoutes], &m->classless_routes));
  }
#undef DHCP_TRY
  return DecodeError::kNone;
}

// --- encoder ---

void put8(std::string* out, uint8_t v) { out->push_back(static_cast<char>(v)); }
void put16(std::string* out, uint16_t v) {
  put8(out, static_cast<uint8_t>(v >> 8));
  put8(out, static_cast<uint8_t>(v));
}
void put32(std::string* out, uint32_t v) {
  put16(out, static_cast<uint16_t>(v >> 16));
  put16(out, static_cast<uint16_t>(v));
}

// One option, split into instances of at most 255 bytes (RFC 3396 §6). Empty values are not
// written: every option here needs at least one byte.
void put_option(std::string* out, uint8_t code, std::string_view value) {
  while (!value.empty()) {
    const size_t n = value.size() < 255 ? value.size() : 255;
    put8(out, code);
    put8(out, static_cast<uint8_t>(n));
    out->append(value.substr(0, n));
    value.remove_prefix(n);
  }
}

void put_u32_option(std::string* out, uint8_t code, const std::optional<uint32_t>& v) {
  if (!v) return;
  std::string b;
  put32(&b, *v);
  put_option(out, code, b);
}

void put_u16_option(std::string* out, uint8_t code, const std::optional<uint16_t>& v) {
  if (!v) return;
  std::string b;
  put16(&b, *v);
  put_option(out, code, b);
}

void put_list_option(std::string* out, uint8_t code, const std::vector<Ipv4>& list) {
  std::string b;
  for (Ipv4 a : list) put32(&b, a);
  put_option(out, code, b);
}

bool ends_in_nul(const std::string& s) { return !s.empty() && s.back() == '\0'; }

}  // namespace

std::string_view message_type_name(MessageType t) {
  switch (t) {
    case MessageType::kDiscover:
      return "DHCPDISCOVER";
    case MessageType::kOffer:
      return "DHCPOFFER";
    case MessageType::kRequest:
      return "DHCPREQUEST";
    case MessageType::kDecline:
      return "DHCPDECLINE";
    case MessageType::kAck:
      return "DHCPACK";
    case MessageType::kNak:
      return "DHCPNAK";
    case MessageType::kRelease:
      return "DHCPRELEASE";
    case MessageType::kInform:
      return "DHCPINFORM";
    case MessageType::kNone:
      break;
  }
  return "DHCP?";
}

std::string_view decode_error_name(DecodeError e) {
  switch (e) {
    case DecodeError::kNone:
      return "none";
    case DecodeError::kTooShort:
      return "too_short";
    case DecodeError::kTooLong:
      return "too_long";
    case DecodeError::kBadOp:
      return "bad_op";
    case DecodeError::kBadHlen:
      return "bad_hlen";
    case DecodeError::kBadCookie:
      return "bad_cookie";
    case DecodeError::kOptionOverrun:
      return "option_overrun";
    case DecodeError::kBadOptionLength:
      return "bad_option_length";
    case DecodeError::kBadOptionValue:
      return "bad_option_value";
    case DecodeError::kBadClasslessRoute:
      return "bad_classless_route";
    case DecodeError::kNoMessageType:
      return "no_message_type";
    case DecodeError::kCount:
      break;
  }
  return "unknown";
}

int mask_prefix_len(Ipv4 mask) {
  int n = 0;
  while (n < 32 && (mask & (0x80000000u >> n)) != 0) ++n;
  return prefix_mask(static_cast<uint8_t>(n)) == mask ? n : -1;
}

Ipv4 prefix_mask(uint8_t prefix_len) {
  AGENT_ASSERT(prefix_len <= 32);
  return prefix_len == 0 ? 0 : ~uint32_t{0} << (32 - prefix_len);
}

std::string ipv4_string(Ipv4 a) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", (a >> 24) & 0xFF, (a >> 16) & 0xFF, (a >> 8) & 0xFF,
                a & 0xFF);
  return buf;
}

DecodeError decode(std::span<const uint8_t> b, Message* out) {
  if (b.size() < kMinBytes) return DecodeError::kTooShort;
  if (b.size() > kMessageBytesMax) return DecodeError::kTooLong;
  Message m;
  m.op = b[0];
  if (m.op != kOpRequest && m.op != kOpReply) return DecodeError::kBadOp;
  m.htype = b[1];
  m.hlen = b[2];
  if (m.hlen > kChaddrBytes) return DecodeError::kBadHlen;
  m.hops = b[3];
  m.xid = be32(b, 4);
  m.secs = be16(b, 8);
  m.flags = be16(b, 10);
  m.ciaddr = be32(b, 12);
  m.yiaddr = be32(b, 16);
  m.siaddr = be32(b, 20);
  m.giaddr = be32(b, 24);
  for (size_t i = 0; i < kChaddrBytes; ++i) m.chaddr[i] = b[28 + i];
  if (be32(b, kFixedBytes) != kMagicCookie) return DecodeError::kBadCookie;

  Collected collected;
  Collected* c = &collected;
  DecodeError e = walk_area(b, kMinBytes, b.size(), false, c);
  if (e != DecodeError::kNone) return e;
  if (c->seen[kOptOverload]) {
    // RFC 2131 §4.1 / RFC 2132 §9.3: 1 = file, 2 = sname, 3 = both; read file first (RFC 3396 §5).
    if (c->value[kOptOverload].size() != 1) return DecodeError::kBadOptionLength;
    const uint8_t overload = static_cast<uint8_t>(c->value[kOptOverload][0]);
    if (overload < 1 || overload > 3) return DecodeError::kBadOptionValue;
    if (overload & 1) {
      e = walk_area(b, kFileOffset, kFileOffset + kFileBytes, true, c);
      if (e != DecodeError::kNone) return e;
    }
    if (overload & 2) {
      e = walk_area(b, kSnameOffset, kSnameOffset + kSnameBytes, true, c);
      if (e != DecodeError::kNone) return e;
    }
  }
  e = interpret(*c, &m);
  if (e != DecodeError::kNone) return e;
  *out = std::move(m);
  return DecodeError::kNone;
}

base::Result<std::string> encode(const Message& m) {
  const uint8_t type = static_cast<uint8_t>(m.type);
  if (type < 1 || type > 8)
    return base::error(base::Code::kInvalidArgument, "message type %u", type);
  if (m.hlen > kChaddrBytes)
    return base::error(base::Code::kInvalidArgument, "hlen %u over 16", m.hlen);
  if (m.routers.size() > kAddressesMax || m.dns_servers.size() > kAddressesMax) {
    return base::error(base::Code::kInvalidArgument, "more than %zu routers or DNS servers",
                       kAddressesMax);
  }
  if (m.classless_routes.size() > kRoutesMax) {
    return base::error(base::Code::kInvalidArgument, "more than %zu classless routes", kRoutesMax);
  }
  // What decode() would refuse, encode() refuses too: everything it makes reads back the same.
  if (m.subnet_mask && mask_prefix_len(*m.subnet_mask) < 0) {
    return base::error(base::Code::kInvalidArgument, "subnet mask %s is not contiguous",
                       ipv4_string(*m.subnet_mask).c_str());
  }
  if ((m.mtu && *m.mtu < 68) || (m.max_message_bytes && *m.max_message_bytes < 576)) {
    return base::error(base::Code::kInvalidArgument,
                       "MTU under 68 or maximum message size under 576");
  }
  if (m.client_id.size() == 1)
    return base::error(base::Code::kInvalidArgument, "client id of one byte");
  if (ends_in_nul(m.hostname) || ends_in_nul(m.domain_name) || ends_in_nul(m.message)) {
    return base::error(base::Code::kInvalidArgument, "a text option ends in a NUL byte");
  }

  std::string out;
  out.reserve(kBootpMinBytes);
  put8(&out, m.op);
  put8(&out, m.htype);
  put8(&out, m.hlen);
  put8(&out, m.hops);
  put32(&out, m.xid);
  put16(&out, m.secs);
  put16(&out, m.flags);
  put32(&out, m.ciaddr);
  put32(&out, m.yiaddr);
  put32(&out, m.siaddr);
  put32(&out, m.giaddr);
  out.append(reinterpret_cast<const char*>(m.chaddr.data()), m.chaddr.size());
  out.append(kSnameBytes + kFileBytes, '\0');
  put32(&out, kMagicCookie);

  put_option(&out, kOptMessageType, std::string(1, static_cast<char>(type)));
  put_option(&out, kOptClientId, m.client_id);
  put_u32_option(&out, kOptRequestedIp, m.requested_ip);
  put_u32_option(&out, kOptServerId, m.server_id);
  put_u16_option(&out, kOptMaxMessageSize, m.max_message_bytes);
  put_option(&out, kOptParameterList,
             std::string_view(reinterpret_cast<const char*>(m.parameter_list.data()),
                              m.parameter_list.size()));
  put_option(&out, kOptHostname, m.hostname);
  put_u32_option(&out, kOptLeaseTime, m.lease_time_s);
  put_u32_option(&out, kOptRenewalTime, m.renewal_time_s);
  put_u32_option(&out, kOptRebindingTime, m.rebinding_time_s);
  put_u32_option(&out, kOptSubnetMask, m.subnet_mask);
  put_u32_option(&out, kOptBroadcast, m.broadcast);
  put_list_option(&out, kOptRouter, m.routers);
  put_list_option(&out, kOptDnsServer, m.dns_servers);
  put_option(&out, kOptDomainName, m.domain_name);
  put_u16_option(&out, kOptMtu, m.mtu);
  std::string routes;
  for (const Route& r : m.classless_routes) {
    if (r.prefix_len > 32) {
      return base::error(base::Code::kInvalidArgument, "classless route /%u", r.prefix_len);
    }
    put8(&routes, r.prefix_len);
    const Ipv4 dest = r.destination & prefix_mask(r.prefix_len);
    for (size_t i = 0; i < (r.prefix_len + 7u) / 8u; ++i)
      put8(&routes, static_cast<uint8_t>(dest >> (24 - 8 * i)));
    put32(&routes, r.router);
  }
  put_option(&out, kOptClasslessRoutes, routes);
  put_option(&out, kOptMessage, m.message);
  put8(&out, kOptEnd);
  if (out.size() < kBootpMinBytes) out.resize(kBootpMinBytes, '\0');
  if (out.size() > kMessageBytesMax) {
    return base::error(base::Code::kInvalidArgument, "message of %zu bytes is over %zu", out.size(),
                       kMessageBytesMax);
  }
  return out;
}

}  // namespace dhcp
