// Fuzzes the DNS query decoder: any bytes must decode or be rejected without reading out of
// bounds or asserting, and a decoded name must be well-formed wire form within 255 bytes, is
// never a response, and compares equal to its lower-cased copy. Then each decoded query is
// answered (dns/writer.h) within the size its EDNS0 allows (or 512), with the question echoed, an
// answer RRset whose size the query picks, SRV targets and additional records: the response never
// exceeds the limit, walks record by record with read_name to its exact end, echoes the question
// byte for byte, and keeps or drops the answer whole, with TC exactly when it dropped it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

#include "agent/dns/message.h"
#include "agent/dns/writer.h"

namespace {

uint16_t be16(std::span<const uint8_t> m, size_t at) { return static_cast<uint16_t>((m[at] << 8) | m[at + 1]); }

void answer_and_check(const dns::Query& q) {
  static uint8_t buf[65535];
  const size_t limit = q.has_edns ? q.edns_udp_size : 512;
  const dns::OptData opt{.udp_size = 1232, .extended_rcode = 0, .dnssec_ok = q.edns_do};
  dns::MessageWriter w(std::span<uint8_t>(buf, sizeof buf), limit, q.has_edns ? &opt : nullptr);
  if (!w.header(q.header.id, dns::kFlagQr | dns::kFlagAa)) abort();  // 512 always holds a header
  if (!w.question(q.qname, q.qtype, q.qclass)) abort();              // a decoded name fits 512
  const uint8_t addr[4] = {10, 0, 0, 1};
  const size_t records = q.qtype % 64;  // the query picks the answer's size
  w.begin_rrset(dns::Section::kAnswer);
  for (size_t i = 0; i < records; ++i) {
    if (q.qtype & 1) {
      w.add_a(q.qname, 5, addr);
    } else {
      w.add_srv(q.qname, 5, 1, 1, 80, q.qname);
    }
  }
  const bool answered = w.end_rrset();
  w.begin_rrset(dns::Section::kAdditional);
  w.add_a(q.qname, 5, addr);
  (void)w.end_rrset();
  const size_t n = w.finish();
  if (n > limit || n < dns::kHeaderBytes) abort();
  const std::span<const uint8_t> m(buf, n);
  const uint16_t flags = be16(m, 2);
  if (((flags & dns::kFlagTc) != 0) != (!answered && records > 0)) abort();
  if (be16(m, 4) != 1) abort();
  const uint16_t an = be16(m, 6);
  if (an != (answered ? records : 0)) abort();
  size_t pos = dns::kHeaderBytes;
  dns::Name echoed;
  if (dns::read_name(m, pos, &echoed, &pos) != dns::DecodeError::kNone) abort();
  if (echoed.size != q.qname.size || std::memcmp(echoed.bytes, q.qname.bytes, echoed.size) != 0) abort();
  pos += 4;
  const size_t total = size_t{an} + be16(m, 8) + be16(m, 10);
  for (size_t r = 0; r < total; ++r) {
    dns::Name owner;
    if (dns::read_name(m, pos, &owner, &pos) != dns::DecodeError::kNone || pos + 10 > n) abort();
    if (be16(m, pos) != dns::kTypeOpt && !dns::name_equal(owner, q.qname)) abort();
    pos += 10 + be16(m, pos + 8);
    if (pos > n) abort();
  }
  if (pos != n) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dns::Query q;
  if (dns::decode_query(std::span<const uint8_t>(data, size), &q) != dns::DecodeError::kNone) {
    return 0;
  }
  // Walk the decoded name: labels 1..63 bytes, ends with the root byte exactly at size.
  size_t at = 0;
  while (at < q.qname.size && q.qname.bytes[at] != 0) {
    if (q.qname.bytes[at] > dns::kLabelBytesMax) abort();
    at += 1 + q.qname.bytes[at];
  }
  if (at + 1 != q.qname.size || q.qname.size > dns::kNameBytesMax) abort();
  // A decoded response is a bug (QR set is dropped); the name equals its lower-cased copy, and
  // lower-casing keeps the label structure.
  if (q.header.is_response()) abort();
  dns::Name lower = q.qname;
  dns::lower_name(&lower);
  if (!dns::name_equal(q.qname, lower) || lower.size != q.qname.size) abort();
  for (size_t i = 0; i < lower.size; ++i) {
    if (lower.bytes[i] >= 'A' && lower.bytes[i] <= 'Z') abort();
  }
  answer_and_check(q);
  return 0;
}
