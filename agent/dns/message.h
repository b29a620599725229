// DNS message codec, decode side (RFC 1035 §4, RFC 6891 EDNS0, RFC 9267 pitfalls).
//
// Sans-I/O: decodes a bounded byte span into a fixed-capacity Query; no allocation, no asserts on
// input. Names are kept in uncompressed wire form (length-prefixed labels) with the case they
// were sent in: an answer must echo the question exactly, since resolvers randomise its case as
// extra entropy against forgery (draft-vixie-dnsext-dns0x20) and drop a reply that does not
// match. Comparison is case-insensitive for ASCII (RFC 1035 §2.3.3, RFC 4343): name_equal(), or
// lower_name() on a copy used as a lookup key. Single-threaded use; no shared state.
// Not here yet: the encoder, truncation and the responder (see README.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace dns {

inline constexpr size_t kNameBytesMax = 255;  // RFC 1035 §3.1, wire form incl. the root byte
inline constexpr size_t kLabelBytesMax = 63;  // RFC 1035 §3.1
inline constexpr size_t kHeaderBytes = 12;

enum class DecodeError : uint8_t {
  kNone = 0,
  kShortHeader,      // fewer than 12 bytes: drop, there is no ID to answer
  kTruncated,        // a name or record runs past the end
  kLabelTooLong,     // label over 63 bytes (or 0x40/0x80 label types)
  kNameTooLong,      // name over 255 bytes
  kPointerForward,   // compression pointer not strictly backwards (RFC 9267 §2)
  kCountLies,        // a count claims more records than the bytes can hold
  kNotOneQuestion,   // QDCOUNT != 1 in a query
  kBadOpt,           // OPT not in additional, not root-named, or more than one
  kNotQuery,         // QR is set: a response, dropped unanswered (header filled)
};

struct Name {
  uint8_t bytes[kNameBytesMax] = {};
  uint8_t size = 0;  // bytes used, including the final zero byte
};

struct Header {
  uint16_t id = 0;
  uint16_t flags = 0;
  uint16_t qdcount = 0, ancount = 0, nscount = 0, arcount = 0;
  bool is_response() const { return (flags & 0x8000) != 0; }
  uint8_t opcode() const { return static_cast<uint8_t>((flags >> 11) & 0xF); }
};

struct Query {
  Header header;
  Name qname;
  uint16_t qtype = 0;
  uint16_t qclass = 0;
  bool has_edns = false;
  uint16_t edns_udp_size = 0;
  uint8_t edns_version = 0;
  bool edns_do = false;
};

// "web.service.weft" (a trailing dot allowed) as a wire-form name, case kept. False for an empty
// label, a label over 63 bytes or a name over 255 bytes; "" and "." are the root.
bool name_from_text(std::string_view dotted, Name* out);

// Case-insensitive (ASCII only, RFC 4343 §3) equality of two wire-form names.
bool name_equal(const Name& a, const Name& b);
// Folds A-Z to a-z in place (other bytes, binary labels included, unchanged).
void lower_name(Name* n);

// Reads the name starting at `offset` in `msg` into `out` (as sent, case kept). On success sets
// `*next` to the offset just after the name in place (after the first pointer, if any).
// Every pointer must point strictly before the start of the label sequence that holds it,
// which makes loops impossible (RFC 9267 §2); the total is bounded by 255 bytes.
DecodeError read_name(std::span<const uint8_t> msg, size_t offset, Name* out, size_t* next);

// Decodes a query. Header is always filled when the result is not kShortHeader, so the
// caller may answer FORMERR with its ID (never for kNotQuery: a response is dropped). Answer/authority records are skipped by length;
// unknown types in additional are skipped, an OPT record fills the edns_* fields.
DecodeError decode_query(std::span<const uint8_t> msg, Query* out);

}  // namespace dns
