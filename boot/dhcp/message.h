// DHCPv4 message codec (RFC 2131 §2 and §4.1, options from RFC 2132, RFC 3396, RFC 3442).
//
// Sans-I/O: encode() turns a Message into the bytes of one UDP payload, decode() turns the bytes
// of one received payload into a Message or says why it cannot. No sockets, no clock, no
// allocation beyond the Message's own strings and vectors, no asserts on input: every length is
// checked against what is left of its area before it is read, and a packet that breaks a rule is
// rejected whole with a DecodeError the caller counts (client.h does).
//
// What decode() reads:
//   - the fixed BOOTP header (op, htype, hlen, hops, xid, secs, flags, ciaddr, yiaddr, siaddr,
//     giaddr, chaddr) and the magic cookie 99.130.83.99 (RFC 2131 §3);
//   - the options in the `options` field, then -- only when option 52 (overload) says so -- in
//     `file` and then `sname`, in that order (RFC 2131 §4.1, RFC 3396 §5). Otherwise sname and
//     file are ignored: they are the boot server's name and boot file, which a PXE loader wants
//     and this client does not;
//   - every instance of one option code, wherever it is, concatenated in that order before the
//     option is interpreted (RFC 3396 §7: "long" options split across instances). A fixed-size
//     option that appears twice is therefore malformed (its concatenation has the wrong length);
//   - the options listed in Message below; the others are skipped by their length.
// Each area is a run of options that ends at option 255 or at the end of the area; 0 is one
// byte of padding. A length byte past the end of its area, or a value past it, rejects the packet
// (kOptionOverrun). Lists of addresses and routes keep their first kAddressesMax and kRoutesMax
// entries (more is legal but useless to a node, and this bounds what a lease holds); host names
// and domain names lose trailing NUL bytes (some servers send C strings).
//
// What encode() writes: the header, the cookie, option 53 first and then every option that is
// set in the Message, splitting one longer than 255 bytes into consecutive instances (RFC 3396),
// then option 255, padded with zeros to the BOOTP minimum of 300 bytes (RFC 1542 §2.1: relays
// and some servers drop shorter packets). It never uses option overload, so a Message that does
// not fit kMessageBytesMax is refused (kInvalidArgument). Both directions are here so that tests
// and the fuzz target can play the server with the same code; a server has to fill the fields
// RFC 2131 Table 3 asks of it, which encode() does not check.
//
// Addresses are uint32_t in host byte order (hal/netns.h does the same): 10.0.0.1 is 0x0A000001.
// Threading: plain functions over plain values. Not here: the client's decisions (client.h),
// sockets, BOOTP without option 53, DHCPINFORM and DHCPv6.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "agent/base/bytes.h"
#include "agent/base/status.h"

namespace dhcp {

using Ipv4 = uint32_t;  // host byte order

inline constexpr uint16_t kServerPort = 67;
inline constexpr uint16_t kClientPort = 68;
inline constexpr size_t kFixedBytes = 236;            // op .. file, RFC 2131 Figure 1
inline constexpr size_t kMinBytes = kFixedBytes + 4;  // and the magic cookie
inline constexpr size_t kSnameOffset = 44;
inline constexpr size_t kSnameBytes = 64;
inline constexpr size_t kFileOffset = 108;
inline constexpr size_t kFileBytes = 128;
inline constexpr size_t kChaddrBytes = 16;
inline constexpr uint32_t kMagicCookie = 0x63825363;  // 99.130.83.99
// The largest message decoded or encoded: one Ethernet MTU's worth, and what the client offers
// as its maximum in option 57. A server must keep its replies within that (RFC 2132 §9.10).
inline constexpr size_t kMessageBytesMax = 1500;
// BOOTP's minimum message size (RFC 1542 §2.1); encode() pads to it.
inline constexpr size_t kBootpMinBytes = 300;
// RFC 2131 §2: "flags": the leftmost bit asks servers and relays to broadcast their reply.
inline constexpr uint16_t kFlagBroadcast = 0x8000;
inline constexpr uint8_t kOpRequest = 1;  // BOOTREQUEST
inline constexpr uint8_t kOpReply = 2;    // BOOTREPLY
inline constexpr uint8_t kHtypeEthernet = 1;
// Kept from an option's list: a node uses a few routers and name servers, not hundreds.
inline constexpr size_t kAddressesMax = 16;
inline constexpr size_t kRoutesMax = 64;

// Option codes this codec knows (RFC 2132 unless said).
enum Option : uint8_t {
  kOptPad = 0,
  kOptSubnetMask = 1,
  kOptRouter = 3,
  kOptDnsServer = 6,
  kOptHostname = 12,
  kOptDomainName = 15,
  kOptMtu = 26,
  kOptBroadcast = 28,
  kOptRequestedIp = 50,
  kOptLeaseTime = 51,
  kOptOverload = 52,
  kOptMessageType = 53,
  kOptServerId = 54,
  kOptParameterList = 55,
  kOptMessage = 56,
  kOptMaxMessageSize = 57,
  kOptRenewalTime = 58,    // T1
  kOptRebindingTime = 59,  // T2
  kOptClientId = 61,
  kOptClasslessRoutes = 121,  // RFC 3442
  kOptEnd = 255,
};

enum class MessageType : uint8_t {
  kNone = 0,  // only in a Message being built; never decoded (kNoMessageType)
  kDiscover = 1,
  kOffer = 2,
  kRequest = 3,
  kDecline = 4,
  kAck = 5,
  kNak = 6,
  kRelease = 7,
  kInform = 8,
};
// "DHCPDISCOVER", ... for logs; "DHCP?" for a value outside 1..8.
std::string_view message_type_name(MessageType t);

// One RFC 3442 classless static route: `destination`/`prefix_len` via `router` (0.0.0.0 means
// the destination is on the link). Bits of `destination` past prefix_len are zero.
struct Route {
  Ipv4 destination = 0;
  uint8_t prefix_len = 0;  // 0..32
  Ipv4 router = 0;
  bool operator==(const Route&) const = default;
};

struct Message {
  // Fixed header (RFC 2131 Figure 1).
  uint8_t op = kOpRequest;
  uint8_t htype = kHtypeEthernet;
  uint8_t hlen = 6;  // 0..16: how many bytes of chaddr are the hardware address
  uint8_t hops = 0;
  uint32_t xid = 0;
  uint16_t secs = 0;
  uint16_t flags = 0;
  Ipv4 ciaddr = 0;
  Ipv4 yiaddr = 0;
  Ipv4 siaddr = 0;
  Ipv4 giaddr = 0;
  std::array<uint8_t, kChaddrBytes> chaddr{};

  // Options. An empty optional, vector or string is "not present"; decode() never yields a
  // present option that is empty, since each of these must have at least one byte.
  MessageType type = MessageType::kNone;      // 53
  std::optional<Ipv4> server_id;              // 54
  std::optional<Ipv4> requested_ip;           // 50
  std::optional<uint32_t> lease_time_s;       // 51; 0xffffffff is "infinite"
  std::optional<uint32_t> renewal_time_s;     // 58, T1
  std::optional<uint32_t> rebinding_time_s;   // 59, T2
  std::optional<Ipv4> subnet_mask;            // 1; contiguous ones
  std::optional<Ipv4> broadcast;              // 28
  std::optional<uint16_t> mtu;                // 26; at least 68 (RFC 2132 §5.1)
  std::optional<uint16_t> max_message_bytes;  // 57; at least 576 (RFC 2132 §9.10)
  std::vector<Ipv4> routers;                  // 3, at most kAddressesMax kept
  std::vector<Ipv4> dns_servers;              // 6, at most kAddressesMax kept
  std::vector<Route> classless_routes;        // 121, at most kRoutesMax kept
  std::string hostname;                       // 12
  std::string domain_name;                    // 15
  std::string message;                        // 56: a server's words, e.g. why it sent a NAK
  std::string client_id;                      // 61: type byte then identifier
  std::vector<uint8_t> parameter_list;        // 55

  bool operator==(const Message&) const = default;
};

enum class DecodeError : uint8_t {
  kNone = 0,
  kTooShort,           // under 240 bytes: no room for the header and cookie
  kTooLong,            // over kMessageBytesMax
  kBadOp,              // op is neither BOOTREQUEST nor BOOTREPLY
  kBadHlen,            // hlen over 16
  kBadCookie,          // not 99.130.83.99
  kOptionOverrun,      // an option's length byte or value runs past the end of its area
  kBadOptionLength,    // an option of the wrong length, or empty where it may not be
  kBadOptionValue,     // a value out of its range: message type, overload, mask, MTU, 57
  kBadClasslessRoute,  // option 121: a width over 32, or a route cut short
  kNoMessageType,      // no option 53: BOOTP, not DHCP
  kCount,              // number of values, for per-reason counters
};
// "too_short", ... for logs and counters.
std::string_view decode_error_name(DecodeError e);

// Decodes one DHCP message (either direction). On kNone `*out` holds it; on an error `*out` is
// unspecified. Never asserts, whatever the bytes.
DecodeError decode(std::span<const uint8_t> bytes, Message* out);

// Encodes `m` as described above. kInvalidArgument when m.type is kNone or outside 1..8, hlen is
// over 16, a present list or string is out of what its option can say (over kAddressesMax
// addresses or kRoutesMax routes, a route wider than 32 bits), or the whole is over
// kMessageBytesMax.
base::Result<std::string> encode(const Message& m);

// The prefix length of a contiguous subnet mask (255.255.255.0 -> 24), or -1 if not contiguous.
int mask_prefix_len(Ipv4 mask);
// The mask of a prefix length 0..32 (24 -> 255.255.255.0).
Ipv4 prefix_mask(uint8_t prefix_len);
// "10.0.0.1".
std::string ipv4_string(Ipv4 a);

}  // namespace dhcp
