// raft::RaftConfig: one server's Raft tunables, with the dissertation section each one serves.
//
// Plain values; validate() before building a core (the core asserts it). Durations are virtual
// or real alike: the core only compares the times it is given.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "agent/base/status.h"
#include "agent/base/time.h"
#include "agent/raft/storage.h"

namespace raft {

struct RaftConfig {
  // This server's id (non-zero) and the bootstrap configuration: every voting member, this
  // server included (§3.2), at most kVotersMax. It applies until the log holds a configuration
  // entry (chapter 4; RaftCore::change_membership); from then on the latest such entry rules
  // (§4.1). Empty for a server that joins an existing cluster: it has no configuration, never
  // campaigns, and learns one from the leader's log once it is added.
  ServerId id = kNoServer;
  std::vector<ServerId> voters;

  // §3.4: a follower that hears from no leader for an election timeout starts an election; each
  // timeout is drawn uniformly from [election_timeout, 2 * election_timeout) so that split votes
  // are rare. 1 s with a 100 ms heartbeat is etcd's default: ten heartbeats may be lost before a
  // follower gives up on its leader, and a failover takes 1-2 s on a LAN.
  base::Duration election_timeout = base::Duration::millis(1000);
  // §3.5 / §3.4: how often an idle leader sends AppendEntries (heartbeats) -- an order of
  // magnitude below the election timeout (§9.3: broadcastTime << electionTimeout).
  base::Duration heartbeat_interval = base::Duration::millis(100);

  // §9.6: a server first asks whether it could win (a pre-vote, which changes no term) and only
  // then starts a real election, so a server that was partitioned away cannot disrupt a working
  // leader by inflating its term when it comes back.
  bool pre_vote = true;
  // §6.2: a leader that has not heard from a majority within an election timeout steps down, and
  // (§4.2.3) a follower that heard from a live leader within the minimum election timeout
  // ignores (pre-)votes -- "leader stickiness". Off only in tests.
  bool check_quorum = true;

  // §10.2 batching: at most this many entries and bytes of entry data in one AppendEntries.
  // 32 KiB keeps one message within one datagram of the simulator (and a handful of TCP
  // segments); a single entry larger than it still goes, alone.
  size_t append_entries_max = 256;
  size_t append_entries_bytes_max = 32 * 1024;
  // §10.2.2 pipelining: AppendEntries in flight to one follower before its acknowledgements.
  // 8 batches of 32 KiB cover a LAN's bandwidth-delay product many times over.
  size_t inflight_max = 8;
  // Flow control for clients: propose() refuses (kResourceExhausted) once this many entries are
  // in the log but not committed, so a partitioned leader cannot grow its log without bound.
  size_t uncommitted_entries_max = 8192;
  // Bytes of one proposed command: wire::kEntryBytesMax (a 512 KiB KV value plus its key).
  size_t entry_bytes_max = 1u << 20;
  // Committed entries handed to the host in one Ready (the state machine applies them in one
  // transaction); the rest follow in the next Ready.
  size_t apply_batch_max = 1024;
  // §6.4 ReadIndex: read requests a leader holds at once (waiting for its first commit of the
  // term, or for a majority to confirm its leadership); read_index() refuses past it
  // (kResourceExhausted). One round confirms any number of reads, so this bounds memory, not
  // throughput: 4096 reads arriving within one heartbeat round trip is far beyond a foundation's
  // load.
  size_t read_requests_max = 4096;

  // Chapter 5 snapshots. §5.1: a leader sends its snapshot to a follower that needs entries it
  // compacted away, in InstallSnapshot chunks of snapshot_chunk_bytes, in order (Figure 5.3), at
  // most snapshot_chunks_inflight_max unacknowledged at once. 256 KiB x 4 keeps a LAN's
  // bandwidth-delay product busy while one chunk stays a modest RPC frame.
  size_t snapshot_chunk_bytes = 256 * 1024;
  size_t snapshot_chunks_inflight_max = 4;
  // A follower accumulates an incoming snapshot in memory up to this many bytes and refuses a
  // bigger one (the reply says so and the leader waits an election timeout before trying again).
  // 64 MiB is many times a foundation's state (KV, catalog, jobs) and a bound a server can afford.
  size_t snapshot_bytes_max = size_t{64} << 20;

  // §10.2.1: a leader sends its AppendEntries and InstallSnapshot chunks in Ready::messages_now,
  // which the host sends before it writes the Ready, so its own disk write runs in parallel
  // with the followers'. Safe because the leader counts itself in the commit only from what
  // on_persisted() confirmed durable (stable_), like any follower's acknowledgement; a majority
  // of followers may commit an entry before the leader's own write ends. Off: every message
  // waits for the Ready's sync (the unit tests that look at Ready::messages).
  bool leader_sends_before_persist = false;

  // --- negative controls: deliberate bugs that the simulation's checkers must catch -----------
  // Messages (votes, append acknowledgements) go out before what they promise is durable.
  bool debug_ack_before_persist = false;
  // A leader commits an entry of an earlier term by counting replicas (what §3.6.2 and Figure
  // 3.7 forbid).
  bool debug_commit_previous_term = false;
  // A leader answers read_index() at once with its commit index: no §6.4 round to confirm it is
  // still the leader, nor waiting for its first commit of the term. A deposed leader that does
  // not know it yet serves stale reads; the simulation's linearizability check must catch it.
  bool debug_read_local = false;

  // kInvalidArgument naming the bad field.
  base::Status validate() const;
};

inline constexpr size_t kVotersMax = 9;

}  // namespace raft
