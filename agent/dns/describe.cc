// A DNS response as text: see describe.h.
#include "agent/dns/describe.h"

#include <cstdio>

#include "agent/dns/message.h"
#include "agent/dns/writer.h"

namespace dns {

namespace {

struct TypeName {
  uint16_t type;
  const char* name;
};
constexpr TypeName kTypes[] = {{kTypeA, "A"},     {kTypeNs, "NS"},     {kTypeCname, "CNAME"}, {kTypeSoa, "SOA"},
                               {kTypePtr, "PTR"}, {kTypeTxt, "TXT"},   {kTypeAaaa, "AAAA"},   {kTypeSrv, "SRV"},
                               {kTypeOpt, "OPT"}, {255, "ANY"}};

std::string dotted(const Name& n) {
  std::string out;
  for (size_t i = 0; i < n.size && n.bytes[i] != 0; i += 1u + n.bytes[i]) {
    out.append(reinterpret_cast<const char*>(n.bytes + i + 1), n.bytes[i]);
    out += '.';
  }
  return out.empty() ? "." : out;
}

base::Status bad(const char* what) { return base::error(base::Code::kInvalidArgument, "DNS response: %s", what); }

uint16_t u16(std::span<const uint8_t> m, size_t at) { return static_cast<uint16_t>((m[at] << 8) | m[at + 1]); }
uint32_t u32(std::span<const uint8_t> m, size_t at) { return (uint32_t{u16(m, at)} << 16) | u16(m, at + 2); }

}  // namespace

uint16_t type_from_text(std::string_view text) {
  for (const TypeName& t : kTypes) {
    if (text.size() == std::string_view(t.name).size()) {
      bool same = true;
      for (size_t i = 0; i < text.size(); ++i) same = same && (text[i] & ~0x20) == t.name[i];
      if (same) return t.type;
    }
  }
  if (text.empty() || text.size() > 5) return 0;
  uint32_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return 0;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  return v >= 1 && v <= 65535 ? static_cast<uint16_t>(v) : 0;
}

std::string type_name(uint16_t type) {
  for (const TypeName& t : kTypes) {
    if (t.type == type) return t.name;
  }
  return "TYPE" + std::to_string(type);
}

base::Result<std::vector<uint8_t>> build_query(std::string_view name, uint16_t type) {
  Name n;
  if (!name_from_text(name, &n)) return base::error(base::Code::kInvalidArgument, "not a DNS name: \"%.*s\"", static_cast<int>(name.size()), name.data());
  std::vector<uint8_t> buf(512);
  MessageWriter w(buf, buf.size());
  if (!w.header(1, kFlagRd) || !w.question(n, type, kClassIn)) return base::error(base::Code::kInvalidArgument, "query does not fit");
  buf.resize(w.finish());
  return buf;
}

base::Result<ResponseText> describe_response(std::span<const uint8_t> m) {
  if (m.size() < 12) return bad("shorter than a header");
  ResponseText out;
  const uint16_t flags = u16(m, 2);
  static const char* const kRcodes[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"};
  const unsigned rcode = flags & 0xF;
  out.rcode = rcode < 6 ? kRcodes[rcode] : "RCODE" + std::to_string(rcode);
  out.authoritative = (flags & kFlagAa) != 0;
  out.truncated = (flags & kFlagTc) != 0;
  const uint16_t counts[4] = {u16(m, 4), u16(m, 6), u16(m, 8), u16(m, 10)};
  size_t at = 12;
  for (uint16_t q = 0; q < counts[0]; ++q) {
    Name n;
    if (read_name(m, at, &n, &at) != DecodeError::kNone || m.size() - at < 4) return bad("bad question");
    at += 4;
  }
  std::vector<RecordText>* sections[3] = {&out.answer, &out.authority, &out.additional};
  for (int s = 0; s < 3; ++s) {
    for (uint16_t i = 0; i < counts[s + 1]; ++i) {
      Name owner;
      if (read_name(m, at, &owner, &at) != DecodeError::kNone || m.size() - at < 10) return bad("bad record header");
      const uint16_t type = u16(m, at);
      const uint32_t ttl = u32(m, at + 4);
      const uint16_t rdlen = u16(m, at + 8);
      at += 10;
      if (m.size() - at < rdlen) return bad("record data past the end");
      const size_t rd = at, end = at + rdlen;
      at = end;
      if (type == kTypeOpt) continue;
      RecordText r{dotted(owner), ttl, type_name(type), ""};
      char buf[160];
      Name target;
      size_t next = 0;
      if (type == kTypeA && rdlen == 4) {
        std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", m[rd], m[rd + 1], m[rd + 2], m[rd + 3]);
        r.data = buf;
      } else if (type == kTypeAaaa && rdlen == 16) {
        for (size_t k = 0; k < 16; k += 2) {
          std::snprintf(buf, sizeof buf, "%s%x", k == 0 ? "" : ":", u16(m, rd + k));
          r.data += buf;
        }
      } else if ((type == kTypeNs || type == kTypeCname || type == kTypePtr) &&
                 read_name(m, rd, &target, &next) == DecodeError::kNone && next == end) {
        r.data = dotted(target);
      } else if (type == kTypeSrv && rdlen > 6 && read_name(m, rd + 6, &target, &next) == DecodeError::kNone && next == end) {
        std::snprintf(buf, sizeof buf, "%u %u %u ", u16(m, rd), u16(m, rd + 2), u16(m, rd + 4));
        r.data = buf + dotted(target);
      } else if (type == kTypeSoa) {
        Name mname, rname;
        if (read_name(m, rd, &mname, &next) != DecodeError::kNone || read_name(m, next, &rname, &next) != DecodeError::kNone ||
            end - next != 20) {
          return bad("bad SOA");
        }
        std::snprintf(buf, sizeof buf, " %u %u %u %u %u", u32(m, next), u32(m, next + 4), u32(m, next + 8), u32(m, next + 12),
                      u32(m, next + 16));
        r.data = dotted(mname) + " " + dotted(rname) + buf;
      } else if (type == kTypeTxt) {
        for (size_t k = rd; k < end;) {
          const size_t len = m[k];
          if (end - k - 1 < len) return bad("bad TXT");
          r.data += (r.data.empty() ? "\"" : " \"") + std::string(reinterpret_cast<const char*>(&m[k + 1]), len) + "\"";
          k += 1 + len;
        }
      } else {
        if (type == kTypeA || type == kTypeAaaa || type == kTypeNs || type == kTypeCname || type == kTypePtr || type == kTypeSrv) {
          return bad("bad record data");
        }
        r.data = "\\# " + std::to_string(rdlen);  // RFC 3597's unknown-type form, length only
      }
      sections[s]->push_back(std::move(r));
    }
  }
  if (at != m.size()) return bad("trailing bytes");
  return out;
}

}  // namespace dns
