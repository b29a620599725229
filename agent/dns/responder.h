// DNS responder core (issue 5 item 5): one decoded query and a read-only view of the catalog in,
// one response (or the decision to forward it) out. Sans-I/O and allocation-free: the server
// owns sockets, the view's storage and the upstream forwarding.
//
// Names answered, under the configured domain (optionally followed by the datacenter label):
//   <domain>                          SOA, NS (apex)
//   <svc>.service                     A / AAAA of the instances that are not critical
//   <tag>.<svc>.service               the same, only instances with that tag
//   _<svc>._<tag>.service             SRV (RFC 2782; "_tcp" or "_udp" mean any tag), the
//                                     targets' addresses as A/AAAA in the additional section
//   <node>.node                       A / AAAA of the node
//   <hex>.addr                        A (8 hex digits) or AAAA (32) of that address, as Consul
// An SRV target is <node>.node.<domain> when the instance has its node's address, else
// <hex>.addr.<domain> (Consul's form), so a target name always resolves to the address its
// additional record gives, and two instances of one node on different addresses get two names.
//   d.c.b.a.in-addr.arpa, ip6.arpa    PTR to <node>.node.<domain> for a node or instance address
// A name that has records of some type but not the one asked is NODATA (NOERROR, no answer, SOA in
// authority); a name with none is NXDOMAIN (SOA in authority) -- a service whose instances are all
// critical has no name. Matching is case-insensitive; the question and the answer owners keep the
// client's case. Instances are shuffled with the caller's seed (a uniform sample when more match
// than fit) and answers are cut at answers_max. Other names are kForward (the server forwards
// them or answers REFUSED); opcodes other than QUERY get NOTIMP, classes other than IN REFUSED,
// EDNS versions above 0 BADVERS (RFC 6891 §6.1.3).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "agent/dns/message.h"
#include "agent/dns/writer.h"

namespace dns {

enum class Health : uint8_t { kPassing, kWarning, kCritical };

struct Address {
  uint8_t bytes[16] = {};
  bool v6 = false;  // false: the first 4 bytes are an IPv4 address
};

struct Instance {
  std::string_view service;
  std::string_view node;
  std::span<const std::string_view> tags;
  Address address;  // the service's address, or its node's
  uint16_t port = 0;
  Health health = Health::kPassing;
};

struct NodeEntry {
  std::string_view name;
  Address address;
};

// What the responder reads: borrowed, unchanged during respond().
struct View {
  std::span<const Instance> instances;
  std::span<const NodeEntry> nodes;
};

struct ResponderConfig {
  Name domain;                      // wire form, e.g. "weft."
  std::string_view datacenter;      // accepted as an extra label before the domain; may be empty
  uint32_t service_ttl = 0;         // Consul's dns_config.service_ttl default
  uint32_t node_ttl = 0;
  uint32_t soa_minimum_ttl = 0;     // negative caching (RFC 2308)
  uint16_t udp_answer_max = 1232;   // the largest UDP answer this server sends (RFC 9715's advice)
  size_t answers_max = 64;          // records of one answer RRset at most
  bool recursion_available = false; // RA in answers: there are upstreams and this client may use them
};

enum class Outcome : uint8_t {
  kAnswered,  // `size` bytes of response in the buffer
  kForward,   // not this server's name: forward it upstream, or answer REFUSED (refused())
};

struct Result {
  Outcome outcome = Outcome::kAnswered;
  size_t size = 0;
};

// Answers `q` (a decode_query() result of kNone) from `view`. `over_tcp` lifts the size limit to
// 65535; otherwise 512 without EDNS, else the client's size clamped to udp_answer_max. `out` must
// hold at least 512 bytes (65535 over TCP, or what the clamp allows); fewer is the caller's bug and
// yields a truncated answer.
Result respond(const Query& q, const View& view, const ResponderConfig& config, uint64_t seed, bool over_tcp,
               std::span<uint8_t> out);

// A bare error response for a query the decoder refused with a readable header (FORMERR), or one
// forwarding refused (REFUSED): the header's ID, opcode and RD, no question. Returns its size.
size_t error_response(const Header& header, uint8_t rcode, std::span<uint8_t> out);

inline constexpr uint8_t kRcodeNoError = 0;
inline constexpr uint8_t kRcodeFormErr = 1;
inline constexpr uint8_t kRcodeServFail = 2;
inline constexpr uint8_t kRcodeNxDomain = 3;
inline constexpr uint8_t kRcodeNotImp = 4;
inline constexpr uint8_t kRcodeRefused = 5;

}  // namespace dns
