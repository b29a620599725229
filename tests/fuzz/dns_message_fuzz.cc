// Fuzzes the DNS query decoder: any bytes must decode or be rejected without reading out of
// bounds or asserting, and a decoded name must be well-formed wire form within 255 bytes, is
// never a response, and compares equal to its lower-cased copy. Then each decoded query is
// answered (dns/writer.h) within the size its EDNS0 allows (or 512), with the question echoed, an
// answer RRset whose size the query picks, SRV targets and additional records: the response never
// exceeds the limit, walks record by record with read_name to its exact end, echoes the question
// byte for byte, and keeps or drops the answer whole, with TC exactly when it dropped it. Last,
// the responder (dns/responder.h) answers it from a fixed catalog view: within the size the
// query allows, and the response walks to its exact end.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string_view>

#include "agent/dns/message.h"
#include "agent/dns/responder.h"
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

// Walks a response record by record; aborts unless it ends exactly at its size.
void walk(std::span<const uint8_t> m) {
  if (m.size() < dns::kHeaderBytes) abort();
  size_t pos = dns::kHeaderBytes;
  dns::Name n;
  for (uint16_t i = 0; i < be16(m, 4); ++i) {
    if (dns::read_name(m, pos, &n, &pos) != dns::DecodeError::kNone || pos + 4 > m.size()) abort();
    pos += 4;
  }
  const size_t total = size_t{be16(m, 6)} + be16(m, 8) + be16(m, 10);
  for (size_t r = 0; r < total; ++r) {
    if (dns::read_name(m, pos, &n, &pos) != dns::DecodeError::kNone || pos + 10 > m.size()) abort();
    pos += 10 + be16(m, pos + 8);
    if (pos > m.size()) abort();
  }
  if (pos != m.size()) abort();
}

void respond_and_check(const dns::Query& q) {
  static const std::string_view tags[] = {"v1", "http"};
  static const dns::Instance instances[] = {
      {"web", "n1", tags, {{10, 0, 0, 1}, false}, 80, dns::Health::kPassing},
      {"web", "n2", {}, {{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}, true}, 81, dns::Health::kWarning},
      {"db", "n2", {}, {{10, 0, 0, 2}, false}, 5432, dns::Health::kCritical},
  };
  static const dns::NodeEntry nodes[] = {{"n1", {{10, 0, 0, 1}, false}}, {"n2", {{10, 0, 0, 2}, false}}};
  static dns::ResponderConfig config = [] {
    dns::ResponderConfig c;
    if (!dns::name_from_text("weft", &c.domain)) abort();
    c.datacenter = "dc1";
    return c;
  }();
  static uint8_t buf[65535];
  const bool tcp = (q.header.id & 1) != 0;
  const dns::Result r = dns::respond(q, dns::View{instances, nodes}, config, q.header.id, tcp, std::span<uint8_t>(buf, sizeof buf));
  if (r.outcome != dns::Outcome::kAnswered) return;
  const size_t limit = tcp ? 65535 : (q.has_edns ? std::max<size_t>(512, std::min<size_t>(q.edns_udp_size, config.udp_answer_max)) : 512);
  if (r.size > limit) abort();
  walk(std::span<const uint8_t>(buf, r.size));
  if (be16(std::span<const uint8_t>(buf, r.size), 0) != q.header.id) abort();
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
  respond_and_check(q);
  return 0;
}
