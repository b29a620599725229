// See message.h. Layout: name reader, record skipper, query decoder.
#include "agent/dns/message.h"

namespace dns {
namespace {

uint8_t ascii_lower(uint8_t c) { return c >= 'A' && c <= 'Z' ? static_cast<uint8_t>(c + 32) : c; }

uint16_t be16(std::span<const uint8_t> m, size_t at) {
  return static_cast<uint16_t>((m[at] << 8) | m[at + 1]);
}

}  // namespace

DecodeError read_name(std::span<const uint8_t> msg, size_t offset, Name* out, size_t* next) {
  out->size = 0;
  size_t pos = offset;
  size_t seq_start = offset;  // start of the label sequence being read
  bool jumped = false;
  // Each iteration consumes a label or a pointer; pointers go strictly backwards, so the loop
  // ends within msg.size() steps.
  for (size_t steps = 0; steps <= msg.size(); ++steps) {
    if (pos >= msg.size()) return DecodeError::kTruncated;
    uint8_t len = msg[pos];
    if ((len & 0xC0) == 0xC0) {
      if (pos + 1 >= msg.size()) return DecodeError::kTruncated;
      size_t target = static_cast<size_t>(((len & 0x3F) << 8) | msg[pos + 1]);
      if (target >= seq_start) return DecodeError::kPointerForward;
      if (!jumped) *next = pos + 2;
      jumped = true;
      pos = target;
      seq_start = target;
      continue;
    }
    if ((len & 0xC0) != 0) return DecodeError::kLabelTooLong;
    if (len == 0) {
      if (out->size + 1u > kNameBytesMax) return DecodeError::kNameTooLong;
      out->bytes[out->size++] = 0;
      if (!jumped) *next = pos + 1;
      return DecodeError::kNone;
    }
    if (pos + 1 + len > msg.size()) return DecodeError::kTruncated;
    if (out->size + 1u + len + 1u > kNameBytesMax) return DecodeError::kNameTooLong;
    out->bytes[out->size++] = len;
    for (size_t i = 0; i < len; ++i) out->bytes[out->size++] = msg[pos + 1 + i];
    pos += 1 + len;
  }
  return DecodeError::kPointerForward;
}

bool name_from_text(std::string_view dotted, Name* out) {
  *out = Name{};
  if (!dotted.empty() && dotted.back() == '.') dotted.remove_suffix(1);
  for (size_t start = 0; !dotted.empty();) {
    size_t dot = dotted.find('.', start);
    if (dot == std::string_view::npos) dot = dotted.size();
    const size_t len = dot - start;
    if (len == 0 || len > kLabelBytesMax || out->size + 1u + len + 1u > kNameBytesMax) return false;
    out->bytes[out->size++] = static_cast<uint8_t>(len);
    for (size_t i = start; i < dot; ++i) out->bytes[out->size++] = static_cast<uint8_t>(dotted[i]);
    if (dot == dotted.size()) break;
    start = dot + 1;
  }
  out->bytes[out->size++] = 0;
  return true;
}

bool name_equal(const Name& a, const Name& b) {
  if (a.size != b.size) return false;
  // Length bytes are at most 63, below 'A', so folding every byte leaves them as they are.
  for (size_t i = 0; i < a.size; ++i) {
    if (ascii_lower(a.bytes[i]) != ascii_lower(b.bytes[i])) return false;
  }
  return true;
}

void lower_name(Name* n) {
  for (size_t i = 0; i < n->size; ++i) n->bytes[i] = ascii_lower(n->bytes[i]);
}

DecodeError decode_query(std::span<const uint8_t> msg, Query* out) {
  *out = Query{};
  if (msg.size() < kHeaderBytes) return DecodeError::kShortHeader;
  Header& h = out->header;
  h.id = be16(msg, 0);
  h.flags = be16(msg, 2);
  h.qdcount = be16(msg, 4);
  h.ancount = be16(msg, 6);
  h.nscount = be16(msg, 8);
  h.arcount = be16(msg, 10);
  // A response (QR set) is never answered: answering one lets a forged source bounce two
  // servers' replies off each other (RFC 5452 §9.1's reflection, and loops between resolvers).
  if (h.is_response()) return DecodeError::kNotQuery;
  if (h.qdcount != 1) return DecodeError::kNotOneQuestion;
  // Every record takes at least 11 bytes (root name + 10), the question at least 5.
  size_t records = size_t{h.ancount} + h.nscount + h.arcount;
  if (kHeaderBytes + 5 + records * 11 > msg.size()) return DecodeError::kCountLies;
  size_t pos = kHeaderBytes;
  DecodeError e = read_name(msg, pos, &out->qname, &pos);
  if (e != DecodeError::kNone) return e;
  if (pos + 4 > msg.size()) return DecodeError::kTruncated;
  out->qtype = be16(msg, pos);
  out->qclass = be16(msg, pos + 2);
  pos += 4;
  Name scratch;
  for (size_t r = 0; r < records; ++r) {
    e = read_name(msg, pos, &scratch, &pos);
    if (e != DecodeError::kNone) return e;
    if (pos + 10 > msg.size()) return DecodeError::kTruncated;
    uint16_t type = be16(msg, pos);
    uint16_t klass = be16(msg, pos + 2);
    uint32_t ttl = (uint32_t{be16(msg, pos + 4)} << 16) | be16(msg, pos + 6);
    uint16_t rdlen = be16(msg, pos + 8);
    pos += 10;
    if (pos + rdlen > msg.size()) return DecodeError::kTruncated;
    if (type == 41) {  // OPT, RFC 6891 §6.1
      bool in_additional = r >= size_t{h.ancount} + h.nscount;
      if (!in_additional || out->has_edns || scratch.size != 1) return DecodeError::kBadOpt;
      out->has_edns = true;
      out->edns_udp_size = klass < 512 ? 512 : klass;  // §6.2.3: below 512 means 512
      out->edns_version = static_cast<uint8_t>(ttl >> 16);
      out->edns_do = (ttl & 0x8000) != 0;
    }
    pos += rdlen;
  }
  return DecodeError::kNone;
}

}  // namespace dns
