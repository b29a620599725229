// The gossip wire format: every SWIM / Lifeguard message, the compound datagram that carries
// several of them, and the push-pull full-state message that travels over TCP.
//
// Every field is written by base::ByteWriter and read by base::ByteReader -- little-endian
// fixed-width integers and LEB128 varints, never a struct copy -- so the bytes are the same on
// every compiler and architecture.
//
// Datagram (one UDP payload, before the crypto envelope):
//   u8      protocol version (kGossipProtocolVersion)
//   varint  message count, 1..kMessagesPerPacketMax
//   count x { u8 type, varint body length, body }
// A single message is a packet with count 1; the length prefix lets a receiver skip a message
// type it does not know (a newer peer's), so the version byte only changes when the framing or an
// existing body changes. Bodies, by type (strings are a varint length then bytes; "addr" is
// u8 family (4 or 6), 4 or 16 address bytes, u16 port):
//   kPing        u32 seq, str target, str source, addr source, u8 flags,
//                [flags&1: u64 buddy incarnation, str buddy from]   (Lifeguard's buddy system:
//                "you are suspected at this incarnation by this member")
//   kIndirectPing u32 seq, str target, addr target, str source, addr source, u8 want_nack
//   kAck         u32 seq
//   kNack        u32 seq
//   kAlive       u64 incarnation, str name, addr, tags (see encode_tags)
//   kSuspect     u64 incarnation, str name, str from
//   kDead        u64 incarnation, str name, str from
//   kLeave       u64 incarnation, str name
//   kUserEvent   u64 lamport time, str name, bytes payload
// Leave is its own message rather than memberlist's "dead, declared by the member itself": the
// state machine then never has to compare names to tell a departure from a failure, and a
// relayed leave cannot be mistaken for a failure report by an older reading of the same bytes.
//
// Push-pull (one stream frame each way, before the envelope):
//   u8 version, u8 flags (1: join), u64 user-event Lamport clock, varint member count,
//   count x { str name, addr, u64 incarnation, u8 state, tags },
//   varint event count (<= kPushPullEventsMax), count x { u64 lamport time, str name, bytes payload }
// The recent user events ride along (as in Serf's push-pull) so an event that gossip missed
// reaches every member by anti-entropy; receivers de-duplicate as for gossiped events.
//
// Decoders take untrusted bytes: every count and length is bounded by the constants below, every
// failure is a Status (kInvalidArgument naming the field), nothing asserts. Decoded strings are
// copies (std::string) so a decoded message outlives the datagram buffer.
//
// Threading: pure functions and plain values. Not here: encryption (gossip/crypto/envelope.h),
// what the messages mean (gossip/swim.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "agent/base/bytes.h"
#include "agent/base/status.h"
#include "hal/net.h"

namespace wire {

// Bumped when the framing or an existing message body changes incompatibly.
inline constexpr uint8_t kGossipProtocolVersion = 1;

// Bounds on what a decoder accepts (and what the core may produce).
inline constexpr size_t kNodeNameBytesMax = 128;     // a hostname with room to spare
inline constexpr size_t kTagsBytesMax = 512;         // encoded tags of one member (Serf: 512)
inline constexpr size_t kTagCountMax = 64;
inline constexpr size_t kEventNameBytesMax = 128;
inline constexpr size_t kEventPayloadBytesMax = 512;  // Serf's UserEventSizeLimit default
inline constexpr size_t kMessagesPerPacketMax = 64;
// One datagram: UDP's IPv4 maximum payload. The transport's own budget (packet_bytes_max, 1400)
// is far smaller; this bound is what the decoder refuses regardless of configuration.
inline constexpr size_t kDatagramBytesMax = 65507;
// Members in one push-pull message, and the frame's byte bound. 16 Ki members of ~60 bytes with
// tags is ~1 MiB; 8 MiB covers maximum-size tags for 10 Ki members.
inline constexpr size_t kPushPullMembersMax = 16384;
inline constexpr size_t kPushPullBytesMax = 8u << 20;
// Recent user events carried in one push-pull message.
inline constexpr size_t kPushPullEventsMax = 64;

enum class GossipType : uint8_t {
  kPing = 1,
  kIndirectPing = 2,
  kAck = 3,
  kNack = 4,
  kAlive = 5,
  kSuspect = 6,
  kDead = 7,
  kLeave = 8,
  kUserEvent = 9,
};

std::string_view gossip_type_name(GossipType type);

// Member states as they travel in push-pull.
enum class WireState : uint8_t { kAlive = 0, kSuspect = 1, kDead = 2, kLeft = 3 };

// Tags: key -> value, ordered by key so the encoding is canonical (two equal maps encode to the
// same bytes, which is how a change is detected).
using Tags = std::map<std::string, std::string>;

struct Ping {
  uint32_t seq = 0;
  std::string target;
  std::string source;
  hal::SockAddr source_addr;
  bool has_buddy = false;
  uint64_t buddy_incarnation = 0;
  std::string buddy_from;
  bool operator==(const Ping&) const = default;
};

struct IndirectPing {
  uint32_t seq = 0;
  std::string target;
  hal::SockAddr target_addr;
  std::string source;
  hal::SockAddr source_addr;
  bool want_nack = false;
  bool operator==(const IndirectPing&) const = default;
};

struct Ack {
  uint32_t seq = 0;
  bool operator==(const Ack&) const = default;
};

struct Nack {
  uint32_t seq = 0;
  bool operator==(const Nack&) const = default;
};

struct Alive {
  uint64_t incarnation = 0;
  std::string name;
  hal::SockAddr addr;
  Tags tags;
  bool operator==(const Alive&) const = default;
};

struct Suspect {
  uint64_t incarnation = 0;
  std::string name;
  std::string from;
  bool operator==(const Suspect&) const = default;
};

struct Dead {
  uint64_t incarnation = 0;
  std::string name;
  std::string from;
  bool operator==(const Dead&) const = default;
};

struct Leave {
  uint64_t incarnation = 0;
  std::string name;
  bool operator==(const Leave&) const = default;
};

struct UserEvent {
  uint64_t ltime = 0;
  std::string name;
  std::string payload;
  bool operator==(const UserEvent&) const = default;
};

// One decoded message: `type` says which member is meaningful. A tagged struct rather than a
// std::variant keeps decode paths free of visitation and is cheap at these sizes.
struct GossipMessage {
  GossipType type = GossipType::kAck;
  Ping ping;
  IndirectPing indirect;
  Ack ack;
  Nack nack;
  Alive alive;
  Suspect suspect;
  Dead dead;
  Leave leave;
  UserEvent event;
  bool operator==(const GossipMessage&) const = default;
};

// --- single messages ------------------------------------------------------------------------
// Appends `msg` as {type, length, body} to `w`. The writer fails (w.ok() false) past its limit.
void encode_message(const GossipMessage& msg, base::ByteWriter& w);
// Appends the body of each message type (no type byte, no length).
void encode_body(const GossipMessage& msg, base::ByteWriter& w);
// Bytes encode_message() will append for `msg`.
size_t encoded_message_bytes(const GossipMessage& msg);

// Decodes one body of the given type, consuming the whole of `body`.
base::Status decode_body(GossipType type, base::ByteSpan body, GossipMessage* out);

void encode_addr(const hal::SockAddr& addr, base::ByteWriter& w);
base::Status decode_addr(base::ByteReader& r, hal::SockAddr* out);
void encode_tags(const Tags& tags, base::ByteWriter& w);
base::Status decode_tags(base::ByteReader& r, Tags* out);
// Bytes of encode_tags(tags); callers check it against kTagsBytesMax before accepting tags.
size_t encoded_tags_bytes(const Tags& tags);

// --- compound packets -----------------------------------------------------------------------
// Builds one datagram of at most `bytes_max` bytes. add() returns false (and adds nothing) when
// the message does not fit or the packet already holds kMessagesPerPacketMax messages.
class PacketBuilder {
 public:
  explicit PacketBuilder(size_t bytes_max);
  bool add(const GossipMessage& msg);
  // Adds one message already encoded by encode_message() (a broadcast queue entry).
  bool add_encoded(std::string_view encoded);
  // Bytes add(msg) would take.
  static size_t cost(const GossipMessage& msg) { return encoded_message_bytes(msg); }
  size_t count() const { return count_; }
  // Bytes still free (after accounting for the header and the count's growth).
  size_t bytes_free() const;
  bool empty() const { return count_ == 0; }
  // The datagram: version, count, messages. Valid until the next add().
  std::string finish() const;

 private:
  size_t bytes_max_;
  size_t count_ = 0;
  std::string body_;  // the messages, without the header
};

// Decodes a whole datagram into `out` (cleared first). Unknown message types are skipped (and
// counted in *unknown_skipped if non-null); any malformed message fails the whole packet, since a
// packet whose framing is broken cannot be trusted in its other parts either.
base::Status decode_packet(base::ByteSpan packet, std::vector<GossipMessage>* out,
                           size_t* unknown_skipped = nullptr);
// Encodes `msgs` as one packet (no byte budget beyond kDatagramBytesMax); for tests and the fuzzer.
std::string encode_packet(const std::vector<GossipMessage>& msgs);

// --- push-pull ------------------------------------------------------------------------------
struct PushPullMember {
  std::string name;
  hal::SockAddr addr;
  uint64_t incarnation = 0;
  WireState state = WireState::kAlive;
  Tags tags;
  bool operator==(const PushPullMember&) const = default;
};

struct PushPull {
  bool join = false;
  uint64_t event_ltime = 0;
  std::vector<PushPullMember> members;
  std::vector<UserEvent> events;  // at most kPushPullEventsMax, the most recent
  bool operator==(const PushPull&) const = default;
};

// Encodes at most kPushPullBytesMax bytes: members that would not fit are left out (the peer gets
// a partial view and the rest through gossip); returns how many were written.
size_t encode_push_pull(const PushPull& pp, std::string* out);
base::Status decode_push_pull(base::ByteSpan bytes, PushPull* out);

}  // namespace wire
