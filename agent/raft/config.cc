// RaftConfig::validate: see config.h.
#include "agent/raft/config.h"

#include <algorithm>

#include "agent/wire/raft_message.h"

namespace raft {

base::Status RaftConfig::validate() const {
  auto bad = [](const char* what) { return base::error(base::Code::kInvalidArgument, "raft config: %s", what); };
  if (id == kNoServer) return bad("id must be non-zero");
  if (voters.size() > kVotersMax) return bad("voters: 0..9 servers");
  if (!voters.empty() && std::find(voters.begin(), voters.end(), id) == voters.end()) {
    return bad("voters must include id (or be empty: a server that joins)");
  }
  for (size_t i = 0; i < voters.size(); ++i) {
    if (voters[i] == kNoServer) return bad("voter id 0");
    for (size_t j = i + 1; j < voters.size(); ++j) {
      if (voters[i] == voters[j]) return bad("duplicate voter");
    }
  }
  if (heartbeat_interval <= base::Duration::zero()) return bad("heartbeat_interval must be positive");
  if (election_timeout < heartbeat_interval * 2) return bad("election_timeout must be at least 2 heartbeats");
  if (append_entries_max == 0 || append_entries_max > wire::kEntriesPerMessageMax) {
    return bad("append_entries_max: 1..4096");
  }
  if (append_entries_bytes_max == 0 || append_entries_bytes_max > wire::kRaftMessageBytesMax / 2) {
    return bad("append_entries_bytes_max: 1..4 MiB");
  }
  if (entry_bytes_max == 0 || entry_bytes_max > wire::kEntryBytesMax) return bad("entry_bytes_max: 1..1 MiB");
  if (inflight_max == 0 || inflight_max > 1024) return bad("inflight_max: 1..1024");
  if (uncommitted_entries_max == 0) return bad("uncommitted_entries_max must be positive");
  if (apply_batch_max == 0) return bad("apply_batch_max must be positive");
  if (read_requests_max == 0) return bad("read_requests_max must be positive");
  if (snapshot_chunk_bytes == 0 || snapshot_chunk_bytes > wire::kSnapshotChunkBytesMax) {
    return bad("snapshot_chunk_bytes: 1..4 MiB");
  }
  if (snapshot_chunks_inflight_max == 0 || snapshot_chunks_inflight_max > 64) {
    return bad("snapshot_chunks_inflight_max: 1..64");
  }
  if (snapshot_bytes_max == 0 || snapshot_bytes_max > wire::kSnapshotBytesMax) {
    return bad("snapshot_bytes_max: 1..4 GiB");
  }
  return base::Status::ok();
}

}  // namespace raft
