// Fuzzes the DNS query decoder: any bytes must decode or be rejected without reading out of
// bounds or asserting, and a decoded name must be well-formed wire form within 255 bytes, is
// never a response, and compares equal to its lower-cased copy.
// (Answering from a fixed view and re-decoding the response comes with the encoder.)
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "agent/dns/message.h"

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
  return 0;
}
