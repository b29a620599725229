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
  EXPECT_FALSE(wire::decode_raft_message(base::as_bytes(bytes + "x"), &out).is_ok());
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
