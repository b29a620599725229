// Helpers for the DNS tests: names from dotted text, query bytes, and an independent walk of a response
// with read_name (which refuses forward pointers and loops).
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/dns/message.h"

namespace dns {
namespace test {

// "Web.service.weft" -> wire form (dns::name_from_text; a test's names are always valid).
inline Name name(std::string_view dotted) {
  Name n;
  EXPECT_TRUE(name_from_text(dotted, &n)) << dotted;
  return n;
}

// A query (ID 0x4242) for `dotted`, with an OPT record when edns_size >= 0.
inline std::vector<uint8_t> query_bytes(std::string_view dotted, uint16_t type, int edns_size = -1, uint8_t edns_version = 0,
                                 uint16_t flags = kFlagRd, uint16_t klass = kClassIn) {
  std::vector<uint8_t> b = {0x42, 0x42, static_cast<uint8_t>(flags >> 8), static_cast<uint8_t>(flags), 0, 1, 0, 0, 0, 0, 0,
                            static_cast<uint8_t>(edns_size >= 0 ? 1 : 0)};
  Name n = name(dotted);
  b.insert(b.end(), n.bytes, n.bytes + n.size);
  b.insert(b.end(), {static_cast<uint8_t>(type >> 8), static_cast<uint8_t>(type), static_cast<uint8_t>(klass >> 8),
                     static_cast<uint8_t>(klass)});
  if (edns_size >= 0) {
    b.insert(b.end(), {0, 0, 41, static_cast<uint8_t>(edns_size >> 8), static_cast<uint8_t>(edns_size), 0, edns_version, 0, 0,
                       0, 0});
  }
  return b;
}

inline std::string text(const Name& n) {
  std::string out;
  for (size_t i = 0; i < n.size && n.bytes[i] != 0; i += 1u + n.bytes[i]) {
    out.append(reinterpret_cast<const char*>(n.bytes + i + 1), n.bytes[i]);
    out += '.';
  }
  return out;
}

inline uint16_t be16(const std::vector<uint8_t>& m, size_t at) { return static_cast<uint16_t>((m[at] << 8) | m[at + 1]); }

struct Rr {
  std::string owner;
  uint16_t type = 0, klass = 0;
  uint32_t ttl = 0;
  std::vector<uint8_t> rdata;
  size_t rdata_at = 0;
};

struct Parsed {
  bool ok = false;
  uint16_t id = 0, flags = 0;
  uint16_t counts[4] = {};
  std::string qname;
  std::vector<Rr> rrs;  // answer, authority, additional in order
};

inline Parsed parse(const std::vector<uint8_t>& m) {
  Parsed p;
  if (m.size() < kHeaderBytes) return p;
  p.id = be16(m, 0);
  p.flags = be16(m, 2);
  for (int i = 0; i < 4; ++i) p.counts[i] = be16(m, 4 + 2 * static_cast<size_t>(i));
  size_t pos = kHeaderBytes;
  Name n;
  for (int q = 0; q < p.counts[0]; ++q) {
    if (read_name(m, pos, &n, &pos) != DecodeError::kNone || pos + 4 > m.size()) return p;
    p.qname = text(n);
    pos += 4;
  }
  const int records = p.counts[1] + p.counts[2] + p.counts[3];
  for (int r = 0; r < records; ++r) {
    Rr rr;
    if (read_name(m, pos, &n, &pos) != DecodeError::kNone || pos + 10 > m.size()) return p;
    rr.owner = text(n);
    rr.type = be16(m, pos);
    rr.klass = be16(m, pos + 2);
    rr.ttl = (uint32_t{be16(m, pos + 4)} << 16) | be16(m, pos + 6);
    const uint16_t rdlen = be16(m, pos + 8);
    pos += 10;
    if (pos + rdlen > m.size()) return p;
    rr.rdata_at = pos;
    rr.rdata.assign(m.begin() + static_cast<long>(pos), m.begin() + static_cast<long>(pos + rdlen));
    pos += rdlen;
    p.rrs.push_back(rr);
  }
  p.ok = pos == m.size();
  return p;
}

}  // namespace test
}  // namespace dns
