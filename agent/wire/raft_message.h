// The Raft wire format: the messages foundations exchange (RequestVote, pre-vote, AppendEntries
// and their replies) and the log entry they carry.
//
// Every field is written by base::ByteWriter and read by base::ByteReader -- little-endian
// fixed-width integers and LEB128 varints, never a struct copy.
//
// Message (one datagram in the simulator, one RPC frame body later):
//   u8      protocol version (kRaftProtocolVersion)
//   u8      type (RaftType)
//   u64     term
//   varint  from (server id, non-zero), varint to (server id, non-zero)
//   body, by type:
//   kRequestVote        u8 flags (1: pre-vote, 2: transfer -- the candidate campaigns because
//                       the leader handed over, §3.10, so voters ignore their lease, §4.2.3),
//                       varint last_log_index, varint last_log_term
//   kRequestVoteReply   u8 flags (1: pre-vote, 2: granted)
//   kAppendEntries      varint prev_log_index, varint prev_log_term, varint leader_commit,
//                       varint entry count (<= kEntriesPerMessageMax),
//                       count x { varint term, u8 entry type, bytes data (<= kEntryBytesMax) }
//                       -- entry i has index prev_log_index + 1 + i, so indexes are not sent
//                       [varint read_seq, present only when non-zero]
//   kAppendEntriesReply u8 flags (1: success), varint index (success: the last index the
//                       request matched; failure: the request's prev_log_index),
//                       varint conflict_index, varint conflict_term, varint last_log_index
//                       [varint read_seq, present only when non-zero]
//   kTimeoutNow         (no body) -- the leader tells a caught-up follower to campaign now (§3.10)
//   kInstallSnapshot    (Figure 5.3: one chunk of the leader's snapshot; chunks go in order)
//                       varint snapshot_index (lastIndex, >= 1), varint snapshot_term (lastTerm,
//                       >= 1), varint snapshot_bytes (the whole image, <= kSnapshotBytesMax),
//                       varint offset, u8 flags (1: done -- the last chunk),
//                       bytes data (<= kSnapshotChunkBytesMax); offset + data <= snapshot_bytes
//                       and done exactly when the chunk ends the image;
//                       bytes snapshot_config (encode_raft_membership, <= kMembershipBytesMax,
//                       at least one voter): the configuration as of snapshot_index (Figure 5.3
//                       "lastConfig", §4.1), in every chunk
//   kInstallSnapshotReply u8 flags (1: done -- the follower installed this snapshot or already
//                       holds what it covers; 2: refused -- over the follower's
//                       snapshot_bytes_max; 4: mismatch -- the chunk was not at the offset the
//                       follower expects, resend from `offset`), varint snapshot_index,
//                       varint offset (bytes of the image the follower holds), varint
//                       last_log_index
// Nothing else may follow the body: trailing bytes are an error, and an optional field is
// written only when non-zero (a zero one on the wire is refused), so every message has exactly
// one encoding.
//
// Compatibility: read_seq (ReadIndex rounds, §6.4), the transfer flag and kTimeoutNow (§3.10),
// and kInstallSnapshot/kInstallSnapshotReply (chapter 5) were added without bumping
// kRaftProtocolVersion. Every message a version-1 peer could send
// decodes here unchanged, and a message that uses none of the additions encodes to exactly the
// bytes version 1 wrote. A decoder from before the additions refuses a message that uses them
// (trailing bytes, an unknown flag or type): a cluster must run this version everywhere before
// its hosts call read_index() or transfer_leadership() or compact their logs. The configuration
// in InstallSnapshot (chapter 4) changed that message's body without a version bump too: every
// foundation of a cluster must run the same build (servers were only ever deployed together).
//
// Decoders take untrusted bytes: every count and length is bounded by the constants below,
// every failure is a Status (kInvalidArgument naming the field), nothing asserts. What the
// fields mean and which combinations the core accepts (entry terms at most the message's term,
// a sender that is a member) is checked by the core, not here.
//
// Threading: pure functions and plain values. Not here: framing on streams, authentication
// (rpc/), what the messages mean (raft/raft.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/base/bytes.h"
#include "agent/base/status.h"

namespace wire {

// Bumped when the framing or an existing message body changes incompatibly.
inline constexpr uint8_t kRaftProtocolVersion = 1;

// Bounds on what the decoder accepts.
// One entry's data: a KV value (512 KiB, Consul's limit) with its key and command header.
inline constexpr size_t kEntryBytesMax = 1u << 20;
// Entries in one AppendEntries: the core's batching limit (append_entries_max) is below this.
inline constexpr size_t kEntriesPerMessageMax = 4096;
// One encoded message: a batch of entries (the core's append_entries_bytes_max) plus headroom.
inline constexpr size_t kRaftMessageBytesMax = 8u << 20;
// One InstallSnapshot chunk's data (the core's snapshot_chunk_bytes is below this) and the whole
// image a message may announce (the follower's snapshot_bytes_max is at most this).
inline constexpr size_t kSnapshotChunkBytesMax = 4u << 20;
inline constexpr uint64_t kSnapshotBytesMax = uint64_t{1} << 32;

enum class RaftType : uint8_t {
  kRequestVote = 1,
  kRequestVoteReply = 2,
  kAppendEntries = 3,
  kAppendEntriesReply = 4,
  kTimeoutNow = 5,
  kInstallSnapshot = 6,
  kInstallSnapshotReply = 7,
};
std::string_view raft_type_name(RaftType type);

enum class EntryType : uint8_t {
  kCommand = 0,  // a state-machine command (opaque here)
  kNoop = 1,     // the entry a new leader appends in its term (dissertation §6.4 / §3.6.2)
  kConfig = 2,   // a cluster configuration (chapter 4): data is encode_raft_membership()
};

// A cluster configuration as a kConfig entry carries it (dissertation §4.1): the voting members
// and the non-voting ones (learners, §4.2.1), each list strictly increasing (so one
// configuration has one encoding), no id in both, no zero id.
//   u8 format (1), varint voter count, voters, varint learner count, learners (varints)
inline constexpr size_t kMembershipServersMax = 32;  // voters plus learners
// An encoded membership's size bound: format byte, two counts, kMembershipServersMax ids of at
// most 10 varint bytes each.
inline constexpr size_t kMembershipBytesMax = 3 + kMembershipServersMax * 10;
struct RaftMembership {
  std::vector<uint64_t> voters;
  std::vector<uint64_t> learners;
  bool operator==(const RaftMembership&) const = default;
};
// Asserts the membership meets the rules above.
std::string encode_raft_membership(const RaftMembership& m);
// kInvalidArgument on anything else: wrong format, counts over kMembershipServersMax, order,
// duplicates, zero ids, trailing bytes.
base::Status decode_raft_membership(std::string_view data, RaftMembership* out);

struct RaftEntry {
  uint64_t index = 0;
  uint64_t term = 0;
  EntryType type = EntryType::kCommand;
  std::string data;
  bool operator==(const RaftEntry&) const = default;
};

// One message; `type` says which fields are meaningful (a tagged struct, as in gossip_message.h).
struct RaftMessage {
  RaftType type = RaftType::kAppendEntries;
  uint64_t term = 0;
  uint64_t from = 0;
  uint64_t to = 0;
  // kRequestVote / kRequestVoteReply
  bool pre_vote = false;
  bool transfer = false;        // RequestVote: a campaign the leader asked for (§3.10, §4.2.3)
  uint64_t last_log_index = 0;  // RequestVote: candidate's; AppendEntriesReply: follower's
  uint64_t last_log_term = 0;
  bool granted = false;
  // kAppendEntries
  uint64_t prev_log_index = 0;
  uint64_t prev_log_term = 0;
  uint64_t leader_commit = 0;
  std::vector<RaftEntry> entries;
  // kAppendEntriesReply
  bool success = false;
  uint64_t index = 0;
  uint64_t conflict_index = 0;
  uint64_t conflict_term = 0;
  // kAppendEntries: the leader's latest ReadIndex round when it sent this (§6.4); the reply
  // echoes the request's. 0: no round yet (and not on the wire).
  uint64_t read_seq = 0;
  // kInstallSnapshot (Figure 5.3) / kInstallSnapshotReply. `last_log_index` above is the
  // follower's in the reply.
  uint64_t snapshot_index = 0;
  uint64_t snapshot_term = 0;
  uint64_t snapshot_bytes = 0;
  uint64_t offset = 0;
  bool done = false;      // request: last chunk; reply: installed (or already covered)
  bool refused = false;   // reply: over the follower's bound; the leader stops trying a while
  bool mismatch = false;  // reply: not the expected offset; resend from `offset`
  std::string data;
  RaftMembership snapshot_config;  // request: the configuration as of snapshot_index (§4.1)
  bool operator==(const RaftMessage&) const = default;
};

// Bytes one entry adds to an AppendEntries body (for the core's batching budget).
size_t encoded_entry_bytes(const RaftEntry& e);
// Encodes `m`. Asserts the message is within kRaftMessageBytesMax and its entries are within
// their bounds -- the core never builds a bigger one (append_entries_bytes_max).
std::string encode_raft_message(const RaftMessage& m);
// Decodes one whole message into `out`. kInvalidArgument on any malformed, oversized or trailing
// input, on an unknown version or type, on a zero server id or an entry index that overflows.
base::Status decode_raft_message(base::ByteSpan bytes, RaftMessage* out);

}  // namespace wire
