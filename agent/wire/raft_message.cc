// Encoder and decoder of the Raft wire format; the layout is documented in raft_message.h.
#include "agent/wire/raft_message.h"

namespace wire {

namespace {

base::Status bad(const char* what) { return base::error(base::Code::kInvalidArgument, "raft: bad %s", what); }

size_t varint_bytes(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

bool known_entry_type(uint8_t t) {
  return t == uint8_t(EntryType::kCommand) || t == uint8_t(EntryType::kNoop) || t == uint8_t(EntryType::kConfig);
}

bool valid_membership(const RaftMembership& m) {
  if (m.voters.size() + m.learners.size() > kMembershipServersMax) return false;
  for (const std::vector<uint64_t>* list : {&m.voters, &m.learners}) {
    for (size_t i = 0; i < list->size(); ++i) {
      if ((*list)[i] == 0 || (i > 0 && (*list)[i] <= (*list)[i - 1])) return false;
    }
  }
  for (uint64_t l : m.learners) {
    for (uint64_t v : m.voters) {
      if (l == v) return false;
    }
  }
  return true;
}

constexpr uint8_t kMembershipFormat = 1;

// The optional trailing read_seq of AppendEntries and its reply: absent, or a non-zero varint
// (a zero one would be a second encoding of the same message).
base::Status optional_read_seq(base::ByteReader& r, RaftMessage* out) {
  if (r.at_end()) return base::Status::ok();
  out->read_seq = r.varint();
  if (!r.ok() || out->read_seq == 0) return bad("read_seq");
  return base::Status::ok();
}

}  // namespace

std::string encode_raft_membership(const RaftMembership& m) {
  AGENT_ASSERT(valid_membership(m));
  std::string out;
  base::ByteWriter w(&out, kEntryBytesMax);
  w.u8(kMembershipFormat);
  w.varint(m.voters.size());
  for (uint64_t v : m.voters) w.varint(v);
  w.varint(m.learners.size());
  for (uint64_t l : m.learners) w.varint(l);
  AGENT_ASSERT(w.ok());
  return out;
}

base::Status decode_raft_membership(std::string_view data, RaftMembership* out) {
  *out = RaftMembership{};
  base::ByteReader r(base::as_bytes(data));
  if (r.u8() != kMembershipFormat || !r.ok()) return bad("membership format");
  for (std::vector<uint64_t>* list : {&out->voters, &out->learners}) {
    const uint64_t n = r.varint();
    if (!r.ok() || n > kMembershipServersMax) return bad("membership count");
    for (uint64_t i = 0; i < n; ++i) list->push_back(r.varint());
    if (!r.ok()) return bad("membership");
  }
  if (!r.at_end()) return bad("membership trailing bytes");
  if (!valid_membership(*out)) return bad("membership ids");
  return base::Status::ok();
}

std::string_view raft_type_name(RaftType type) {
  switch (type) {
    case RaftType::kRequestVote: return "request_vote";
    case RaftType::kRequestVoteReply: return "request_vote_reply";
    case RaftType::kAppendEntries: return "append_entries";
    case RaftType::kAppendEntriesReply: return "append_entries_reply";
    case RaftType::kTimeoutNow: return "timeout_now";
    case RaftType::kInstallSnapshot: return "install_snapshot";
    case RaftType::kInstallSnapshotReply: return "install_snapshot_reply";
  }
  return "unknown";
}

size_t encoded_entry_bytes(const RaftEntry& e) {
  return varint_bytes(e.term) + 1 + varint_bytes(e.data.size()) + e.data.size();
}

std::string encode_raft_message(const RaftMessage& m) {
  std::string out;
  base::ByteWriter w(&out, kRaftMessageBytesMax);
  w.u8(kRaftProtocolVersion);
  w.u8(static_cast<uint8_t>(m.type));
  w.u64(m.term);
  w.varint(m.from);
  w.varint(m.to);
  switch (m.type) {
    case RaftType::kRequestVote:
      w.u8((m.pre_vote ? 1 : 0) | (m.transfer ? 2 : 0));
      w.varint(m.last_log_index);
      w.varint(m.last_log_term);
      break;
    case RaftType::kRequestVoteReply:
      w.u8((m.pre_vote ? 1 : 0) | (m.granted ? 2 : 0));
      break;
    case RaftType::kAppendEntries:
      AGENT_ASSERT(m.entries.size() <= kEntriesPerMessageMax);
      w.varint(m.prev_log_index);
      w.varint(m.prev_log_term);
      w.varint(m.leader_commit);
      w.varint(m.entries.size());
      for (const RaftEntry& e : m.entries) {
        AGENT_ASSERT(e.data.size() <= kEntryBytesMax);
        w.varint(e.term);
        w.u8(static_cast<uint8_t>(e.type));
        w.str(e.data);
      }
      if (m.read_seq != 0) w.varint(m.read_seq);
      break;
    case RaftType::kAppendEntriesReply:
      w.u8(m.success ? 1 : 0);
      w.varint(m.index);
      w.varint(m.conflict_index);
      w.varint(m.conflict_term);
      w.varint(m.last_log_index);
      if (m.read_seq != 0) w.varint(m.read_seq);
      break;
    case RaftType::kTimeoutNow:
      break;
    case RaftType::kInstallSnapshot:
      AGENT_ASSERT(m.data.size() <= kSnapshotChunkBytesMax && m.snapshot_bytes <= kSnapshotBytesMax);
      w.varint(m.snapshot_index);
      w.varint(m.snapshot_term);
      w.varint(m.snapshot_bytes);
      w.varint(m.offset);
      w.u8(m.done ? 1 : 0);
      w.str(m.data);
      AGENT_ASSERT(!m.snapshot_config.voters.empty());
      w.str(encode_raft_membership(m.snapshot_config));
      break;
    case RaftType::kInstallSnapshotReply:
      w.u8((m.done ? 1 : 0) | (m.refused ? 2 : 0) | (m.mismatch ? 4 : 0));
      w.varint(m.snapshot_index);
      w.varint(m.offset);
      w.varint(m.last_log_index);
      break;
  }
  AGENT_ASSERT_MSG(w.ok(), "raft message over kRaftMessageBytesMax");
  return out;
}

base::Status decode_raft_message(base::ByteSpan bytes, RaftMessage* out) {
  *out = RaftMessage{};
  if (bytes.size() > kRaftMessageBytesMax) return bad("message size");
  base::ByteReader r(bytes);
  const uint8_t version = r.u8();
  if (!r.ok() || version != kRaftProtocolVersion) return bad("version");
  const uint8_t type = r.u8();
  if (!r.ok() || type < uint8_t(RaftType::kRequestVote) || type > uint8_t(RaftType::kInstallSnapshotReply)) {
    return bad("type");
  }
  out->type = static_cast<RaftType>(type);
  out->term = r.u64();
  out->from = r.varint();
  out->to = r.varint();
  if (!r.ok()) return bad("header");
  if (out->from == 0 || out->to == 0) return bad("server id");
  switch (out->type) {
    case RaftType::kRequestVote: {
      const uint8_t flags = r.u8();
      if (!r.ok() || (flags & ~3u) != 0) return bad("request_vote flags");
      out->pre_vote = (flags & 1) != 0;
      out->transfer = (flags & 2) != 0;
      out->last_log_index = r.varint();
      out->last_log_term = r.varint();
      if (!r.ok()) return bad("request_vote");
      break;
    }
    case RaftType::kRequestVoteReply: {
      const uint8_t flags = r.u8();
      if (!r.ok() || (flags & ~3u) != 0) return bad("request_vote_reply flags");
      out->pre_vote = (flags & 1) != 0;
      out->granted = (flags & 2) != 0;
      break;
    }
    case RaftType::kAppendEntries: {
      out->prev_log_index = r.varint();
      out->prev_log_term = r.varint();
      out->leader_commit = r.varint();
      const uint64_t count = r.varint();
      if (!r.ok()) return bad("append_entries");
      if (count > kEntriesPerMessageMax) return bad("entry count");
      // Each entry takes at least 3 bytes: refuse a count the remaining bytes cannot hold before
      // reserving anything for it.
      if (count > r.remaining() / 3) return bad("entry count");
      if (out->prev_log_index > UINT64_MAX - count) return bad("entry index");
      out->entries.reserve(count);
      for (uint64_t i = 0; i < count; ++i) {
        RaftEntry e;
        e.index = out->prev_log_index + 1 + i;
        e.term = r.varint();
        const uint8_t et = r.u8();
        std::string_view data = r.str(kEntryBytesMax);
        if (!r.ok()) return bad("entry");
        if (!known_entry_type(et)) return bad("entry type");
        e.type = static_cast<EntryType>(et);
        e.data.assign(data.data(), data.size());
        out->entries.push_back(std::move(e));
      }
      AGENT_TRY(optional_read_seq(r, out));
      break;
    }
    case RaftType::kAppendEntriesReply: {
      const uint8_t flags = r.u8();
      if (!r.ok() || (flags & ~1u) != 0) return bad("append_entries_reply flags");
      out->success = (flags & 1) != 0;
      out->index = r.varint();
      out->conflict_index = r.varint();
      out->conflict_term = r.varint();
      out->last_log_index = r.varint();
      if (!r.ok()) return bad("append_entries_reply");
      AGENT_TRY(optional_read_seq(r, out));
      break;
    }
    case RaftType::kTimeoutNow:
      break;
    case RaftType::kInstallSnapshot: {
      out->snapshot_index = r.varint();
      out->snapshot_term = r.varint();
      out->snapshot_bytes = r.varint();
      out->offset = r.varint();
      const uint8_t flags = r.u8();
      std::string_view data = r.str(kSnapshotChunkBytesMax);
      std::string_view config = r.str(kMembershipBytesMax);
      if (!r.ok()) return bad("install_snapshot");
      if (!decode_raft_membership(config, &out->snapshot_config).is_ok() || out->snapshot_config.voters.empty()) {
        return bad("snapshot configuration");
      }
      if ((flags & ~1u) != 0) return bad("install_snapshot flags");
      out->done = (flags & 1) != 0;
      if (out->snapshot_index == 0 || out->snapshot_term == 0) return bad("snapshot index or term");
      if (out->snapshot_bytes > kSnapshotBytesMax) return bad("snapshot size");
      // offset <= snapshot_bytes <= 2^32, so the sum cannot overflow.
      if (out->offset > out->snapshot_bytes || data.size() > out->snapshot_bytes - out->offset) {
        return bad("snapshot chunk beyond the image");
      }
      if (out->done != (out->offset + data.size() == out->snapshot_bytes)) return bad("snapshot done flag");
      out->data.assign(data.data(), data.size());
      break;
    }
    case RaftType::kInstallSnapshotReply: {
      const uint8_t flags = r.u8();
      if (!r.ok() || (flags & ~7u) != 0) return bad("install_snapshot_reply flags");
      out->done = (flags & 1) != 0;
      out->refused = (flags & 2) != 0;
      out->mismatch = (flags & 4) != 0;
      out->snapshot_index = r.varint();
      out->offset = r.varint();
      out->last_log_index = r.varint();
      if (!r.ok()) return bad("install_snapshot_reply");
      break;
    }
  }
  if (!r.at_end()) return bad("trailing bytes");
  return base::Status::ok();
}

}  // namespace wire
