// The Raft wire format round-trips every message type, and the decoder refuses truncated,
// oversized, trailing and nonsensical input with a Status instead of asserting.
#include <gtest/gtest.h>

#include "agent/wire/raft_message.h"

using wire::RaftMessage;
using wire::RaftType;

namespace {

RaftMessage roundtrip(const RaftMessage& m) {
  std::string bytes = wire::encode_raft_message(m);
  RaftMessage out;
  base::Status st = wire::decode_raft_message(base::as_bytes(bytes), &out);
  EXPECT_TRUE(st.is_ok()) << st.to_string();
  return out;
}

RaftMessage append_with(size_t n) {
  RaftMessage m;
  m.type = RaftType::kAppendEntries;
  m.term = 7;
  m.from = 1;
  m.to = 2;
  m.prev_log_index = 40;
  m.prev_log_term = 6;
  m.leader_commit = 39;
  for (size_t i = 0; i < n; ++i) {
    m.entries.push_back({41 + i, 7, i == 0 ? wire::EntryType::kNoop : wire::EntryType::kCommand,
                         i == 0 ? "" : "cmd" + std::to_string(i)});
  }
  return m;
}

}  // namespace

TEST(RaftMessage, EveryTypeRoundTrips) {
  RaftMessage v;
  v.type = RaftType::kRequestVote;
  v.term = 1ull << 40;
  v.from = 3;
  v.to = 1;
  v.pre_vote = true;
  v.last_log_index = 12345;
  v.last_log_term = 9;
  EXPECT_EQ(roundtrip(v), v);

  RaftMessage vr;
  vr.type = RaftType::kRequestVoteReply;
  vr.term = 5;
  vr.from = 1;
  vr.to = 3;
  vr.pre_vote = true;
  vr.granted = true;
  EXPECT_EQ(roundtrip(vr), vr);

  RaftMessage a = append_with(5);
  EXPECT_EQ(roundtrip(a), a);
  RaftMessage hb = append_with(0);
  EXPECT_EQ(roundtrip(hb), hb);

  RaftMessage ar;
  ar.type = RaftType::kAppendEntriesReply;
  ar.term = 7;
  ar.from = 2;
  ar.to = 1;
  ar.success = false;
  ar.index = 40;
  ar.conflict_index = 31;
  ar.conflict_term = 5;
  ar.last_log_index = 44;
  EXPECT_EQ(roundtrip(ar), ar);
}

TEST(RaftMessage, EveryTruncationIsRefused) {
  std::string bytes = wire::encode_raft_message(append_with(3));
  for (size_t n = 0; n < bytes.size(); ++n) {
    RaftMessage out;
    EXPECT_FALSE(wire::decode_raft_message(base::as_bytes(std::string_view(bytes).substr(0, n)), &out).is_ok())
        << "prefix of " << n << " bytes";
  }
}

TEST(RaftMessage, TrailingBytesVersionTypeAndIdsAreRefused) {
  RaftMessage out;
  std::string bytes = wire::encode_raft_message(append_with(1));
  // One trailing varint after an AppendEntries is its read_seq (below); anything after that is
  // trailing.
  EXPECT_FALSE(wire::decode_raft_message(base::as_bytes(bytes + "xx"), &out).is_ok());
  RaftMessage vote;
  vote.type = RaftType::kRequestVote;
  vote.from = 1;
  vote.to = 2;
  EXPECT_FALSE(wire::decode_raft_message(base::as_bytes(wire::encode_raft_message(vote) + "x"), &out).is_ok());
  RaftMessage tn;
  tn.type = RaftType::kTimeoutNow;
  tn.from = 1;
  tn.to = 2;
  EXPECT_FALSE(wire::decode_raft_message(base::as_bytes(wire::encode_raft_message(tn) + "x"), &out).is_ok());
  std::string v = bytes;
  v[0] = 2;  // unknown version
  EXPECT_FALSE(wire::decode_raft_message(base::as_bytes(v), &out).is_ok());
  std::string t = bytes;
  t[1] = 9;  // unknown type
  EXPECT_FALSE(wire::decode_raft_message(base::as_bytes(t), &out).is_ok());
  RaftMessage z = append_with(0);
  z.from = 0;
  std::string zb = wire::encode_raft_message(z);
  EXPECT_FALSE(wire::decode_raft_message(base::as_bytes(zb), &out).is_ok());
}

TEST(RaftMessage, BoundsOnCountsAndLengthsHold) {
  // A count far beyond what the bytes can hold is refused before anything is reserved.
  std::string b;
  base::ByteWriter w(&b, 1 << 20);
  w.u8(wire::kRaftProtocolVersion);
  w.u8(uint8_t(RaftType::kAppendEntries));
  w.u64(1);
  w.varint(1);
  w.varint(2);
  w.varint(0);
  w.varint(0);
  w.varint(0);
  w.varint(wire::kEntriesPerMessageMax);  // claims 4096 entries, holds none
  RaftMessage out;
  EXPECT_FALSE(wire::decode_raft_message(base::as_bytes(b), &out).is_ok());
  // An entry index that would overflow.
  RaftMessage m = append_with(2);
  m.prev_log_index = UINT64_MAX - 1;
  std::string ob = wire::encode_raft_message(m);
  EXPECT_FALSE(wire::decode_raft_message(base::as_bytes(ob), &out).is_ok());
  // An unknown entry type.
  RaftMessage e = append_with(1);
  std::string eb = wire::encode_raft_message(e);
  // The entry type byte follows the entry's term varint (1 byte) at the end minus the data (0
  // bytes for the no-op: a 0 length byte).
  eb[eb.size() - 2] = 7;
  EXPECT_FALSE(wire::decode_raft_message(base::as_bytes(eb), &out).is_ok());
  // Unknown flag bits.
  RaftMessage vr;
  vr.type = RaftType::kRequestVoteReply;
  vr.from = 1;
  vr.to = 2;
  std::string vb = wire::encode_raft_message(vr);
  vb.back() = 0x10;
  EXPECT_FALSE(wire::decode_raft_message(base::as_bytes(vb), &out).is_ok());
}

// The ReadIndex round (read_seq), the transfer flag and TimeoutNow round-trip; a message that
// uses none of them is byte for byte what version 1 wrote, so version-1 messages decode
// unchanged; a zero read_seq on the wire (a second encoding) is refused.
TEST(RaftMessage, ReadSeqTransferAndTimeoutNowAreCompatibleAdditions) {
  RaftMessage hb = append_with(0);
  hb.read_seq = 300;
  EXPECT_EQ(roundtrip(hb), hb);
  RaftMessage a = append_with(3);
  a.read_seq = 1;
  EXPECT_EQ(roundtrip(a), a);
  RaftMessage ar;
  ar.type = RaftType::kAppendEntriesReply;
  ar.term = 7;
  ar.from = 2;
  ar.to = 1;
  ar.success = true;
  ar.index = 44;
  ar.read_seq = uint64_t{1} << 50;
  EXPECT_EQ(roundtrip(ar), ar);
  RaftMessage v;
  v.type = RaftType::kRequestVote;
  v.term = 8;
  v.from = 2;
  v.to = 3;
  v.transfer = true;
  v.last_log_index = 44;
  v.last_log_term = 7;
  EXPECT_EQ(roundtrip(v), v);
  RaftMessage tn;
  tn.type = RaftType::kTimeoutNow;
  tn.term = 7;
  tn.from = 1;
  tn.to = 2;
  EXPECT_EQ(roundtrip(tn), tn);
  EXPECT_EQ(wire::raft_type_name(RaftType::kTimeoutNow), "timeout_now");

  // Version 1's heartbeat, written by hand: version, type, u64 term, from, to, prev index, prev
  // term, commit, no entries.
  const uint8_t v1[] = {1, 3, 7, 0, 0, 0, 0, 0, 0, 0, 1, 2, 40, 6, 39, 0};
  RaftMessage out;
  ASSERT_TRUE(wire::decode_raft_message(base::ByteSpan(v1, sizeof v1), &out).is_ok());
  EXPECT_EQ(out, append_with(0));
  EXPECT_EQ(out.read_seq, 0u);
  const std::string again = wire::encode_raft_message(out);
  EXPECT_EQ(again, std::string(reinterpret_cast<const char*>(v1), sizeof v1));
  // With read_seq: one more varint at the end. A zero there is refused.
  hb = append_with(0);
  hb.read_seq = 5;
  EXPECT_EQ(wire::encode_raft_message(hb), again + "\x05");
  EXPECT_FALSE(wire::decode_raft_message(base::as_bytes(again + std::string(1, '\0')), &out).is_ok());
  // Version 1's vote request flags are a subset of today's; an unknown bit is still refused.
  std::string vb = wire::encode_raft_message(v);
  vb[12] = 4;  // after version, type, the 8-byte term and two 1-byte ids: the flags
  EXPECT_FALSE(wire::decode_raft_message(base::as_bytes(vb), &out).is_ok());
}

// Figure 5.3's InstallSnapshot and its reply round-trip (an empty image too), every truncation
// is refused, and the decoder refuses what the core must never see: index or term 0, a chunk
// beyond the announced image, a done flag that disagrees with the chunk's end, an image or chunk
// over the bounds, unknown flags.
TEST(RaftMessage, InstallSnapshotRoundTripsAndIsBounded) {
  RaftMessage s;
  s.type = RaftType::kInstallSnapshot;
  s.term = 9;
  s.from = 1;
  s.to = 3;
  s.snapshot_index = 1000;
  s.snapshot_term = 8;
  s.snapshot_bytes = 10;
  s.offset = 4;
  s.data = std::string("\0bcdef", 6);
  s.done = true;
  s.snapshot_config = wire::RaftMembership{{1, 2, 3}, {4}};  // Figure 5.3 lastConfig (§4.1)
  EXPECT_EQ(roundtrip(s), s);
  RaftMessage first = s;
  first.offset = 0;
  first.data = "abcd";
  first.done = false;
  EXPECT_EQ(roundtrip(first), first);
  RaftMessage empty = s;
  empty.snapshot_bytes = 0;
  empty.offset = 0;
  empty.data.clear();
  EXPECT_EQ(roundtrip(empty), empty);
  RaftMessage r;
  r.type = RaftType::kInstallSnapshotReply;
  r.term = 9;
  r.from = 3;
  r.to = 1;
  r.snapshot_index = 1000;
  r.offset = 4;
  r.mismatch = true;
  r.last_log_index = 12;
  EXPECT_EQ(roundtrip(r), r);
  r.mismatch = false;
  r.done = true;
  r.refused = true;
  EXPECT_EQ(roundtrip(r), r);
  EXPECT_EQ(wire::raft_type_name(RaftType::kInstallSnapshot), "install_snapshot");

  RaftMessage out;
  for (const RaftMessage& m : {s, r}) {
    const std::string b = wire::encode_raft_message(m);
    for (size_t n = 0; n < b.size(); ++n) {
      EXPECT_FALSE(wire::decode_raft_message(base::as_bytes(b.substr(0, n)), &out).is_ok()) << n;
    }
  }
  auto refused = [&](RaftMessage m) {
    // Encode by hand what the encoder would assert on or what decodes to nonsense.
    std::string b;
    base::ByteWriter w(&b, 16u << 20);
    w.u8(wire::kRaftProtocolVersion);
    w.u8(uint8_t(RaftType::kInstallSnapshot));
    w.u64(m.term);
    w.varint(m.from);
    w.varint(m.to);
    w.varint(m.snapshot_index);
    w.varint(m.snapshot_term);
    w.varint(m.snapshot_bytes);
    w.varint(m.offset);
    w.u8(m.done ? 1 : (m.refused ? 2 : 0));
    w.str(m.data);
    // The configuration as raw bytes, so that invalid ones can be written.
    w.str(m.snapshot_config.voters.empty() && m.snapshot_config.learners.empty()
              ? std::string("\x01\x00\x00", 3)
              : (m.snapshot_config.voters == std::vector<uint64_t>{9, 9} ? std::string("\x01\x02\x09\x09\x00", 5)
                                                                          : wire::encode_raft_membership(m.snapshot_config)));
    return !wire::decode_raft_message(base::as_bytes(b), &out).is_ok();
  };
  EXPECT_FALSE(refused(s)) << "the hand encoder matches";
  RaftMessage bad = s;
  bad.snapshot_index = 0;
  EXPECT_TRUE(refused(bad));
  bad = s;
  bad.snapshot_config = wire::RaftMembership{};
  EXPECT_TRUE(refused(bad)) << "a snapshot without a configuration (no voter)";
  bad = s;
  bad.snapshot_config = wire::RaftMembership{{9, 9}, {}};
  EXPECT_TRUE(refused(bad)) << "a configuration that does not decode (duplicate voter)";
  bad = s;
  bad.snapshot_term = 0;
  EXPECT_TRUE(refused(bad));
  bad = s;
  bad.offset = 5;  // 5 + 6 > 10
  EXPECT_TRUE(refused(bad));
  bad = s;
  bad.done = false;  // ends the image without saying so
  EXPECT_TRUE(refused(bad));
  bad = first;
  bad.done = true;  // says done before the end
  EXPECT_TRUE(refused(bad));
  bad = s;
  bad.refused = true;  // flag 2 is not a request flag
  bad.done = false;
  EXPECT_TRUE(refused(bad));
  bad = s;
  bad.snapshot_bytes = wire::kSnapshotBytesMax + 1;
  EXPECT_TRUE(refused(bad));
  bad = first;
  bad.snapshot_bytes = wire::kSnapshotChunkBytesMax + 10;
  bad.data.assign(wire::kSnapshotChunkBytesMax + 1, 'x');
  EXPECT_TRUE(refused(bad)) << "a chunk over kSnapshotChunkBytesMax";
  std::string rb = wire::encode_raft_message(r);
  rb[12] = 8;  // the reply's flags byte: an unknown bit
  EXPECT_FALSE(wire::decode_raft_message(base::as_bytes(rb), &out).is_ok());
}

// Configurations (kConfig entries) round-trip; out-of-order, duplicate, overlapping, zero and
// oversized lists and trailing bytes are refused.
TEST(RaftMessage, MembershipEncodingIsCanonicalAndBounded) {
  wire::RaftMembership m{{1, 2, 5}, {7}};
  wire::RaftMembership out;
  ASSERT_TRUE(wire::decode_raft_membership(wire::encode_raft_membership(m), &out).is_ok());
  EXPECT_EQ(out, m);
  wire::RaftMembership empty;
  ASSERT_TRUE(wire::decode_raft_membership(wire::encode_raft_membership(empty), &out).is_ok());
  EXPECT_EQ(out, empty);
  auto raw = [](std::vector<uint8_t> b) { return std::string(b.begin(), b.end()); };
  EXPECT_TRUE(wire::decode_raft_membership(raw({1, 2, 1, 2, 1, 3}), &out).is_ok());
  EXPECT_FALSE(wire::decode_raft_membership(raw({1, 2, 2, 1, 0}), &out).is_ok()) << "out of order";
  EXPECT_FALSE(wire::decode_raft_membership(raw({1, 2, 1, 1, 0}), &out).is_ok()) << "duplicate";
  EXPECT_FALSE(wire::decode_raft_membership(raw({1, 1, 1, 1, 1}), &out).is_ok()) << "voter and learner";
  EXPECT_FALSE(wire::decode_raft_membership(raw({1, 1, 0, 0}), &out).is_ok()) << "zero id";
  EXPECT_FALSE(wire::decode_raft_membership(raw({2, 0, 0}), &out).is_ok()) << "format";
  EXPECT_FALSE(wire::decode_raft_membership(raw({1, 0, 0, 0}), &out).is_ok()) << "trailing";
  EXPECT_FALSE(wire::decode_raft_membership(raw({1, 0}), &out).is_ok()) << "truncated";
  EXPECT_FALSE(wire::decode_raft_membership(raw({1, 33}), &out).is_ok()) << "count";
  // A kConfig entry travels in AppendEntries like any other.
  RaftMessage a = append_with(1);
  a.entries[0].type = wire::EntryType::kConfig;
  a.entries[0].data = wire::encode_raft_membership(m);
  EXPECT_EQ(roundtrip(a), a);
}
