// RaftCore: one Raft server (Ongaro, "Consensus: Bridging Theory and Practice", 2014) as a
// sans-I/O state machine.
//
// What it does, by dissertation section (each rule in raft.cc names its section again):
//   - §3.3 terms: every message carries the sender's term; a higher term turns a server into a
//     follower of that term, a lower one is refused with our term in the reply.
//   - §3.4 leader election with randomized election timeouts in [T, 2T); one vote per term,
//     persisted before it is announced; §3.6.1 the vote goes only to a candidate whose log is at
//     least as up to date as ours.
//   - §9.6 pre-vote: a server whose election timer fires first asks, without changing its term,
//     whether a majority would vote for it (term + 1, its log); only then does it campaign.
//   - §6.2 check-quorum: a leader that has not heard from a majority for an election timeout
//     steps down. §4.2.3 "leader stickiness": a server that heard from a leader less than an
//     election timeout ago refuses pre-votes and votes and does not adopt their term.
//     The known interaction of the two (etcd raft's notes on it): with stickiness, a server whose
//     term ran ahead (it campaigned while cut off, e.g. with pre-vote off) can neither win nor
//     learn the leader, since its term is higher than the leader's and its votes are ignored; so
//     an AppendEntries from a lower term is answered with our term, which makes that leader step
//     down and lets an election at the higher term finish the matter. With pre-vote on, a
//     cut-off server never raises its term, so this disruption does not happen; and pre-votes are
//     subject to stickiness too, or a follower with a current leader could pre-vote for a server
//     with a long log and help it depose a healthy leader.
//   - §3.5 log replication: AppendEntries with the consistency check on (prev_log_index,
//     prev_log_term); conflicting suffixes are truncated; §5.3's fast back-off (a rejection
//     names the conflicting term and the first index the follower holds for it, or its log's
//     end) lets the leader skip a whole term per round trip.
//   - §10.2 batching (append_entries_max, append_entries_bytes_max) and pipelining: while a
//     follower is known to match (state "replicate") the leader advances next_index
//     optimistically and keeps up to inflight_max AppendEntries in flight; after a rejection or
//     an unanswered round it falls back to "probe", one message per heartbeat until one succeeds.
//   - §3.6.2 commitment: the leader commits the highest index stored on a majority only if that
//     entry is from its current term (Figure 3.7); §6.4 / §3.6.2 a new leader appends a no-op
//     entry of its term so that earlier entries commit without waiting for a client.
//   - §3.8 persistence: nothing goes out before what it promises is durable (Ready, below);
//     §10.2.1 the leader counts its own log in the majority only once it is durable.
//   - §6.4 linearizable reads (ReadIndex): read_index(ctx) on the leader. (1) A leader that has
//     not yet committed an entry of its term queues the read until it has (its no-op commits);
//     (2) it records its commit index as the read index; (3) it confirms it is still the leader
//     by a round of heartbeats: every AppendEntries carries the latest read round number
//     (read_seq) and the reply echoes it, and once a majority (counting us) answered a round
//     issued after the read arrived, (4) the read is released as ReadState{ctx, index} in a
//     Ready. The host serves it once its state machine applied `index`. A single-voter cluster
//     confirms at once. Reads that arrive before a round's heartbeats left share that round.
//     A leader that steps down lists its unconfirmed reads in Ready::reads_aborted.
//   - §3.10 leadership transfer: transfer_leadership(target) stops accepting proposals, brings
//     the target's log up to date, then sends it TimeoutNow; the target campaigns at once,
//     skipping pre-vote, and its RequestVote carries the transfer flag so that voters ignore
//     their lease (§4.2.3). A transfer not finished within an election timeout is abandoned and
//     proposals resume. kNoServer picks the voter with the most of our log.
//   - Chapter 4 membership changes, one server at a time: change_membership() appends a
//     configuration entry (EntryType::kConfig: voters and non-voting learners) that every server
//     uses as soon as it is in its log, committed or not, and falls back from if it is truncated
//     away (§4.1). A new server joins as a learner and is promoted only once it holds everything
//     committed (§4.2.1). One change at a time (the previous one committed), and none before the
//     leader committed an entry of its term (Ongaro's 2015 correction). A leader that removes
//     itself leads without counting itself until the change commits, then steps down (§4.2.2).
//     Learners and servers outside the configuration never campaign; requests are processed
//     whatever the configuration (§4.1), answers count only from its members.
//
//   - Chapter 5 log compaction and snapshots. The host owns the state machine and its snapshot
//     image (the core never looks inside one); the core owns the log and the transfers:
//       * §5.1 the host snapshots its applied state durably and tells the core with
//         set_snapshot(meta, image); compact(upto) then drops entries <= upto (upto <= applied,
//         covered by that snapshot) and the next Ready's compact_to deletes them from storage.
//       * §5.1 / Figure 5.3 a leader whose follower needs an entry at or before the log start
//         sends its snapshot instead, in InstallSnapshot chunks of snapshot_chunk_bytes, in
//         order, at most snapshot_chunks_inflight_max unacknowledged; the follower echoes how many
//         bytes it holds, a chunk at the wrong offset is answered with "mismatch" (resend from
//         there), an unanswered window is resent from the last acknowledged offset after two
//         heartbeat intervals. Heartbeats go on during a transfer (authority, read rounds).
//       * Figure 5.3 receiver: chunks accumulate in memory up to snapshot_bytes_max (a bigger
//         image is refused; the leader waits an election timeout before trying again); a new
//         image (another leader, term, index or size) starts at offset 0. When complete: receiver
//         6 (the log holds the snapshot's last entry, same index and term: keep the entries after
//         it), else receiver 7 (discard the entire log); commit and applied move to the
//         snapshot's index, and the next Ready carries `snapshot` for the host to install
//         (receiver 8: reset the state machine from the snapshot's contents). The
//         reply that says "done" leaves only after that Ready was persisted (§3.8).
//       * A snapshot whose index is at or below our commit index is answered "done" at once: a
//         follower's committed prefix is the leader's (Leader Completeness, Log Matching).
//       * §5.1 the entries up to the log start are committed, so an AppendEntries that reaches
//         back before it is checked only from the log start on.
//
// Driving it (like etcd raft's Ready): the host feeds on_message() with every decoded message
// from a peer, on_tick() at next_deadline(), and propose() with client commands. Whenever
// has_ready() is true it takes a Ready and performs it IN THIS ORDER:
//   0. if `snapshot` is set (a leader's snapshot was received, Figure 5.3): verify the image and
//      save it with its meta durably as the host's snapshot (atomically replacing the previous
//      one) -- before step 1 deletes the entries it covers;
//   1. persist: hard_state (if set), snapshot (Storage::apply_snapshot), truncate_from (if
//      non-zero), entries, compact_to (Storage::compact) -- write_ready() does these in this
//      order -- then Storage::sync();
//   2. only after the sync succeeded: if `snapshot` is set, restore the state machine from it
//      (receiver 8: it then holds everything up to snapshot->meta.index, and `committed`
//      continues after it); send `messages`, apply `committed` in order, then take up
//      `read_states` (serve each once applied >= its index) and fail `reads_aborted`;
//   3. call on_persisted(ready.id).
// Only one Ready is out at a time: has_ready() is false until on_persisted() for the previous
// one. Inputs may arrive while a Ready is being persisted; their effects wait for the next Ready.
// A Ready with no persistence (needs_sync() false) may be sent and acknowledged at once.
//
// Snapshots, the host's side (chapter 5; README.md "Snapshots" says it again with the crash
// cases):
//   - At start: open the storage; if the host saved a snapshot, recover_snapshot(storage, its
//     meta) (finishes an install that a crash cut between step 0 and step 1's sync). If the
//     state machine's applied index is below storage.snapshot_meta().index (a crash between step
//     1's sync and step 2's restore, a state machine that lost its last applies, or one that
//     lives in memory), restore it from the saved snapshot. Build the core with that applied
//     index, then call set_snapshot() with the saved snapshot (if any) before feeding any input.
//   - Taking one (§5.1.2, when the log has grown enough): image the state machine at its applied
//     index A (A <= applied_index()), save it and {A, term_at(A)} durably, then
//     set_snapshot({A, term_at(A)}, image) and compact(upto) for some upto <= A (keeping a few
//     entries below A lets briefly lagging followers catch up without a snapshot). The Ready
//     that carries compact_to deletes them from storage.
//
// Threading: one thread (the node's loop); no locks. Ownership: the core owns its in-memory copy
// of the log (loaded from Storage at construction) and never touches a Storage afterwards; the
// snapshot images are shared, immutable strings (the leader keeps sending the one a transfer
// started with even if the host sets a newer one).
//
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/base/random.h"
#include "agent/base/status.h"
#include "agent/base/time.h"
#include "agent/raft/config.h"
#include "agent/raft/storage.h"
#include "agent/wire/raft_message.h"

namespace raft {

using Message = wire::RaftMessage;
using wire::EntryType;
using wire::RaftType;

enum class Role : uint8_t { kFollower, kPreCandidate, kCandidate, kLeader };
const char* role_name(Role r);

// A cluster configuration (§4.1): voters and non-voting learners.
using Membership = wire::RaftMembership;
enum class MembershipChange : uint8_t {
  kAddLearner,  // a new server, without a vote, to catch up (§4.2.1)
  kPromote,     // a caught-up learner becomes a voter
  kRemove,      // a voter or learner leaves (§4.2.2)
};

// A read confirmed by ReadIndex (§6.4): the host may serve the read named `ctx` from its state
// machine as soon as it has applied `index` (and not before).
struct ReadState {
  uint64_t ctx = 0;
  Index index = 0;
  bool operator==(const ReadState&) const = default;
};

// A snapshot image and its place in the log (chapter 5). The core never reads `data`.
struct Snapshot {
  SnapshotMeta meta;
  std::shared_ptr<const std::string> data;
};

// What the host must do, in order (see the header comment): save `snapshot` if set; persist
// (hard_state, snapshot meta, truncate_from, entries, compact_to) and sync; then send
// `messages`, restore the snapshot, apply `committed` and take up the reads; then
// on_persisted(id).
struct Ready {
  uint64_t id = 0;
  // Figure 5.3: a leader's snapshot, complete. Before anything else save it durably as the
  // host's snapshot; Storage::apply_snapshot(meta) in step 1; after the sync restore the state
  // machine from it, before applying `committed`.
  std::optional<Snapshot> snapshot;
  std::optional<HardState> hard_state;  // the new term and vote, if they changed
  Index truncate_from = 0;              // non-zero: delete entries >= this first
  std::vector<Entry> entries;           // then append these (contiguous)
  Index compact_to = 0;                 // non-zero: then Storage::compact(compact_to) (§5.1)
  std::vector<Message> messages;        // to send once the above is durable
  std::vector<Message> messages_now;    // §10.2.1 (RaftConfig::leader_sends_before_persist): a
                                        // leader's AppendEntries and snapshot chunks, to send
                                        // before the writes above; they promise nothing durable
  std::vector<Entry> committed;         // to apply once the above is durable, in index order
  std::vector<ReadState> read_states;   // reads confirmed (§6.4), in the order they were asked
  std::vector<uint64_t> reads_aborted;  // ctx of reads that will not be confirmed here (we lost
                                        // the leadership): answer kUnavailable, the client retries
  // Only the debug_ack_before_persist negative control fills this: messages the host sends
  // before persisting (a deliberate bug).
  std::vector<Message> messages_before_persist;

  bool needs_sync() const {
    return snapshot.has_value() || hard_state.has_value() || truncate_from != 0 || !entries.empty() || compact_to != 0;
  }
};

// For the host at start, before building the core (chapter 5): `saved` is the meta of the
// snapshot the host saved last. If the log does not hold it (beyond the log's end, or another
// term at its index) a crash cut the Ready that installed it between step 0 and step 1's sync;
// this does step 1's part now -- raises the stored term to saved.term if lower, apply_snapshot,
// drops the entries after it -- and syncs. OK and nothing written when the log holds it.
// kFailedPrecondition when `saved` is older than the log start (entries are lost: the host must
// not start); storage errors as they come (the process stops).
base::Status recover_snapshot(Storage& storage, const SnapshotMeta& saved);

// Performs step 1's writes (not the sync) on `storage`: save_hard_state, apply_snapshot,
// truncate_suffix, append, compact -- in that order.
base::Status write_ready(Storage& storage, const Ready& ready);

struct RaftCounters {
  uint64_t messages_in = 0;
  uint64_t messages_out = 0;
  uint64_t invalid_messages = 0;     // not for us, from a non-member, malformed entries
  uint64_t stale_messages = 0;       // from an older term, or replies we no longer wait for
  uint64_t elections_started = 0;    // real campaigns (term incremented)
  uint64_t pre_votes_started = 0;
  uint64_t votes_granted = 0;        // by us, real votes
  uint64_t votes_refused_sticky = 0; // (pre-)votes ignored because a leader is live (§4.2.3)
  uint64_t leaderships = 0;
  uint64_t check_quorum_stepdowns = 0;
  uint64_t append_rejections = 0;    // AppendEntries we rejected (consistency check)
  uint64_t truncations = 0;
  uint64_t entries_appended = 0;     // as follower
  uint64_t proposals = 0;
  uint64_t readies = 0;
  uint64_t reads_requested = 0;      // read_index() calls accepted
  uint64_t reads_confirmed = 0;      // ReadStates emitted
  uint64_t reads_aborted = 0;        // dropped because we stepped down
  uint64_t read_rounds = 0;          // heartbeat rounds started for reads (§6.4)
  uint64_t transfers_started = 0;    // §3.10
  uint64_t transfers_abandoned = 0;  // not done within an election timeout
  uint64_t timeout_now_sent = 0;
  uint64_t transfer_elections = 0;   // campaigns started by a TimeoutNow
  uint64_t compactions = 0;          // compact() calls that dropped entries (§5.1)
  uint64_t snapshots_sent = 0;       // snapshot transfers started (leader)
  uint64_t snapshot_chunks_sent = 0;
  uint64_t snapshot_resends = 0;     // windows rewound (mismatch or no progress)
  uint64_t snapshots_installed = 0;  // complete snapshots handed to the host (follower, or restart)
  uint64_t snapshots_refused = 0;    // over snapshot_bytes_max (follower)
  uint64_t membership_changes = 0;   // configuration entries appended as leader
  uint64_t removed_stepdowns = 0;    // §4.2.2: leader not in the committed configuration
};

class RaftCore {
 public:
  // Loads term, vote, where the log starts (storage.snapshot_meta()) and the log after it from
  // `storage` (read once, here). `applied` is the last index the host's state machine already
  // holds (0 for a state machine rebuilt from the log). `seed` seeds the election-timeout draws.
  // Asserts config.validate() is OK and storage.snapshot_meta().index <= applied <= the log's
  // last index (the host restores its snapshot first when its state machine is behind the log
  // start). Then, before any input, the host calls set_snapshot() with its saved snapshot.
  RaftCore(RaftConfig config, const Storage& storage, uint64_t seed, base::MonoTime now, Index applied = 0);
  RaftCore(const RaftCore&) = delete;
  RaftCore& operator=(const RaftCore&) = delete;

  // --- inputs ----------------------------------------------------------------------------------
  // Election timeouts (followers, candidates), heartbeats and check-quorum (leaders).
  void on_tick(base::MonoTime now);
  // One decoded message from a peer. Messages not for us, from non-members or with malformed
  // entries are counted and dropped; nothing here asserts on a message's content.
  void on_message(const Message& m, base::MonoTime now);
  // A client command. Returns the index it will have if committed. kUnavailable when this server
  // is not the leader (message names the leader if known), kResourceExhausted past
  // uncommitted_entries_max, kInvalidArgument over entry_bytes_max. Committed (and applied
  // through a Ready) only if this leader keeps its leadership long enough.
  base::Result<Index> propose(std::string data, base::MonoTime now);
  // §6.4 ReadIndex: asks to serve a linearizable read, named by the host's `ctx` (echoed in the
  // ReadState; any value, uniqueness is the host's business). OK: a ReadState{ctx, index} (or,
  // if leadership is lost first, ctx in reads_aborted) comes in a later Ready -- or in the next
  // one, for a single-voter cluster whose leader already committed an entry of its term.
  // kUnavailable when not the leader (the message names the leader if known: a follower does
  // not forward, the host does); kResourceExhausted past read_requests_max pending reads.
  base::Status read_index(uint64_t ctx, base::MonoTime now);
  // §3.10: hands the leadership to `target` (a voter other than us; kNoServer: the voter whose
  // log matches most of ours). Until the transfer ends propose() refuses (kUnavailable,
  // "transferring"). OK means the transfer started: the target is brought up to date and then
  // told to campaign at once (TimeoutNow). It ends when we see a higher term, or is abandoned
  // after an election timeout (transferring() turns false, proposals resume).
  // kUnavailable when not the leader; kInvalidArgument for ourselves or a non-voter;
  // kFailedPrecondition when a transfer is already under way or there is no other voter.
  base::Status transfer_leadership(ServerId target, base::MonoTime now);
  // §5.1: the host's latest durable snapshot (at start, and after taking each new one); the
  // leader sends it to followers that need entries before the log start. Errors, nothing
  // changed: kInvalidArgument (no data, index or term 0, over wire::kSnapshotBytesMax, or a term
  // that disagrees with the log's entry at meta.index when that entry is committed),
  // kFailedPrecondition (meta.index below the log start: the entries between are lost). A
  // snapshot at or below the one already set
  // changes nothing (OK). It becomes the one served, and the commit index moves up to it (a
  // snapshot holds only committed entries). kFailedPrecondition, too, when the log does not hold
  // it (beyond its end, or another term at its index): recover_snapshot() first.
  base::Status set_snapshot(SnapshotMeta meta, std::shared_ptr<const std::string> data);
  // §5.1: drops the entries <= upto from memory; the next Ready's compact_to deletes them from
  // storage. The host calls it once its durable snapshot covers upto. OK and nothing when upto is
  // at or below the log start. kFailedPrecondition past applied_index() or past the snapshot
  // set with set_snapshot() (none set: always).
  base::Status compact(Index upto);
  // Chapter 4, one server at a time: appends a configuration entry (EntryType::kConfig) that
  // takes effect at once on every server that holds it (§4.1) and returns its index. Refused
  // with kUnavailable when not the leader or transferring; kFailedPrecondition while the
  // previous change is uncommitted (§4.1), before the leader committed an entry of its term
  // (the 2015 fix), when a learner to promote has not caught up (it must hold everything
  // committed and have answered within an election timeout, §4.2.1) or when removing the last
  // voter; kAlreadyExists / kNotFound for a member / non-member; kResourceExhausted past
  // kVotersMax voters or kMembershipServersMax members. A leader that removes itself keeps
  // leading until the change commits, without counting itself (§4.2.2), then steps down.
  base::Result<Index> change_membership(MembershipChange change, ServerId id, base::MonoTime now);
  // The host finished step 1 and 2 of Ready `id` (the one last taken).
  void on_persisted(uint64_t ready_id, base::MonoTime now);

  // --- outputs ---------------------------------------------------------------------------------
  bool has_ready() const;
  Ready take_ready();
  // When on_tick() next has work.
  base::MonoTime next_deadline() const;

  // --- reads -----------------------------------------------------------------------------------
  ServerId id() const { return config_.id; }
  Role role() const { return role_; }
  Term term() const { return hs_.term; }
  ServerId voted_for() const { return hs_.voted_for; }
  // The leader of the current term as far as we know (ourselves when leader), kNoServer if none.
  ServerId leader() const { return leader_; }
  Index commit_index() const { return commit_; }
  // Last index handed out for applying (in a Ready).
  Index applied_index() const { return applied_; }
  Index last_index() const { return start_.index + log_.size(); }
  // Where the log starts (§5.1): entries <= log_start().index are compacted away (or in an
  // installed snapshot); first_index() is the first one held.
  const SnapshotMeta& log_start() const { return start_; }
  // §5.1: what a snapshot of the state at index i records -- {i, term_at(i), the configuration
  // in effect at i} (the latest configuration entry <= i, else the log start's, else the
  // bootstrap voters). The host saves this meta with an image it takes at i. Asserts
  // log_start().index <= i <= last_index().
  SnapshotMeta snapshot_meta_at(Index i) const;
  Index first_index() const { return start_.index + 1; }
  // The snapshot the leader would send (set_snapshot() or the last one installed); data null
  // if none.
  const Snapshot& snapshot() const { return snapshot_; }
  // Term of the entry at `i` (log_start().term for i == log_start().index, 0 for 0); asserts
  // log_start().index <= i <= last_index().
  Term term_at(Index i) const;
  // Asserts first_index() <= i <= last_index().
  const Entry& entry(Index i) const;
  // Index of the last entry known durable here.
  Index stable_index() const { return stable_; }
  const RaftCounters& counters() const { return counters_; }
  const RaftConfig& config() const { return config_; }
  // For invariant checkers: the lowest index whose entry was removed or replaced since the last
  // call (UINT64_MAX if none), then forgets it. Appends at the end do not count.
  Index take_log_rewrite_low();
  // The configuration in use (§4.1: the latest in the log, committed or not; before any, the
  // bootstrap RaftConfig::voters) and the index of its entry (0: bootstrap).
  const Membership& membership() const { return members_; }
  Index membership_index() const { return members_index_; }
  bool is_voter(ServerId id) const;
  bool is_learner(ServerId id) const;
  // Leader: the target of the leadership transfer under way, kNoServer if none.
  ServerId transferring() const { return transfer_target_; }
  // Leader: reads held (waiting for the first commit of the term or for confirmation).
  size_t reads_pending() const { return reads_waiting_.size() + reads_pending_.size(); }

 private:
  // What the leader knows of one follower (§3.5 nextIndex / matchIndex; §10.2 states).
  struct Progress {
    Index next = 1;
    Index match = 0;
    bool replicate = false;      // false: probe (one message per heartbeat)
    bool probe_sent = false;     // probe: a message is out this heartbeat
    std::deque<Index> inflight;  // replicate: last index of each AppendEntries out
    // replicate: when match_index last advanced, or the pipeline last went from empty to busy.
    // Two heartbeat intervals with messages out and no progress means they were lost.
    base::MonoTime progress_at;
    bool recent_active = false;  // heard from since the last check-quorum (§6.2)
    uint64_t read_ack = 0;       // highest read round (read_seq) it answered in this term (§6.4)
    // §5.1 snapshot transfer (Figure 5.3): the image being sent (data null: none), the next
    // offset to send, the bytes the follower said it holds, whether the last chunk went out.
    Snapshot snap;
    uint64_t snap_sent = 0;
    uint64_t snap_acked = 0;
    bool snap_done_sent = false;
    base::MonoTime snap_retry_at;  // after a refusal, no new transfer before this
    bool answered = false;       // answered us in this term, last at answered_at (§4.2.1)
    base::MonoTime answered_at;
  };
  // A snapshot being received (Figure 5.3 receiver 2-4), from one leader in one term.
  struct IncomingSnapshot {
    ServerId from = kNoServer;
    Term term = 0;
    SnapshotMeta meta;
    uint64_t bytes = 0;  // the whole image
    std::string data;    // received so far, in order
  };
  // A read whose index is recorded, waiting for a majority to answer round `seq` (§6.4).
  struct PendingRead {
    uint64_t ctx = 0;
    Index index = 0;
    uint64_t seq = 0;
  };

  // A majority of the voters of the configuration in use (§4.1).
  size_t quorum() const { return members_.voters.size() / 2 + 1; }
  void refresh_membership();
  Membership membership_at(Index i) const;
  template <class Pred>
  size_t voters_where(bool self, Pred pred) const;
  Term last_term() const { return term_at(last_index()); }
  bool log_up_to_date(Index last_index, Term last_term) const;
  bool in_lease(base::MonoTime now) const;
  void reset_election_timer(base::MonoTime now);
  void set_hard_state(Term term, ServerId voted_for);

  void become_follower(Term term, ServerId leader, base::MonoTime now);
  void start_pre_vote(base::MonoTime now);
  void start_election(base::MonoTime now, bool transfer = false);
  void request_votes(Term term, bool pre_vote, bool transfer = false);
  void become_leader(base::MonoTime now);
  void tally(const Message& m, base::MonoTime now);

  void handle_request_vote(const Message& m, base::MonoTime now);
  void handle_append_entries(const Message& m, base::MonoTime now);
  void handle_append_reply(const Message& m, base::MonoTime now);
  void handle_timeout_now(const Message& m, base::MonoTime now);
  void handle_install_snapshot(const Message& m, base::MonoTime now);
  void handle_snapshot_reply(const Message& m, base::MonoTime now);
  // Figure 5.3 receiver 5-8 in the core: replaces the log, moves commit and applied, stages the
  // snapshot for the next Ready.
  void install_snapshot(const SnapshotMeta& meta, std::shared_ptr<const std::string> data);
  void start_snapshot(ServerId peer, Progress& pr, base::MonoTime now);
  void send_snapshot_chunks(ServerId peer, Progress& pr, base::MonoTime now);
  base::Status not_leader() const;
  bool valid(const Message& m) const;

  void truncate_from(Index i);
  void append_local(Entry e);
  void send(Message m);
  // Leader: sends what `peer` needs (batches while replicating, one probe, or a heartbeat when
  // `heartbeat` and there is nothing else).
  void replicate_to(ServerId peer, Progress& pr, bool heartbeat, base::MonoTime now);
  void send_append(ServerId peer, Progress& pr, Index prev, bool with_entries, base::MonoTime now);
  void broadcast_append(bool heartbeat, base::MonoTime now);
  void maybe_commit(base::MonoTime now);

  // §6.4 ReadIndex.
  void start_read(uint64_t ctx, base::MonoTime now);
  void release_reads();
  void abort_reads();
  // §3.10: sends TimeoutNow if the transfer target matches our whole log.
  void maybe_timeout_now(ServerId peer, const Progress& pr);

  RaftConfig config_;
  base::Prng prng_;
  HardState hs_;
  bool hs_dirty_ = false;
  SnapshotMeta start_;      // the log starts after start_.index (§5.1)
  std::vector<Entry> log_;  // log_[i] has index start_.index + 1 + i
  Snapshot snapshot_;       // what the leader sends (§5.1)
  std::optional<Snapshot> install_;               // for the next Ready (Figure 5.3 receiver 8)
  Index compact_to_ = 0;                          // for the next Ready (§5.1)
  std::optional<IncomingSnapshot> incoming_;      // at most one, <= snapshot_bytes_max
  Index unstable_from_;     // entries >= this are not yet handed to the host to persist
  bool truncated_ = false;  // the next Ready truncates at unstable_from_
  Index stable_ = 0;        // durable here (§10.2.1)
  Index rewrite_low_ = UINT64_MAX;
  Index commit_ = 0;
  Index applied_ = 0;

  Role role_ = Role::kFollower;
  ServerId leader_ = kNoServer;
  base::MonoTime leader_contact_;  // when leader_ last proved itself (§4.2.3)
  bool heard_leader_ = false;
  base::MonoTime election_deadline_;
  std::map<ServerId, bool> votes_;  // this campaign's answers (pre-vote or real)

  std::map<ServerId, Progress> progress_;  // leader only; every voter but us
  base::MonoTime heartbeat_deadline_ = base::MonoTime::never();
  base::MonoTime check_quorum_deadline_ = base::MonoTime::never();

  // Chapter 4: the configuration in use and the indexes of the configuration entries in the log.
  Membership members_;
  Index members_index_ = 0;
  std::vector<Index> config_entries_;

  // §6.4 ReadIndex (leader only).
  std::deque<uint64_t> reads_waiting_;     // ctx of reads before this term's first commit
  std::deque<PendingRead> reads_pending_;  // in order of seq (non-decreasing)
  uint64_t read_seq_ = 0;                  // latest round; every AppendEntries carries it
  bool read_round_unsent_ = false;         // round read_seq_'s heartbeats are still in msgs_
  std::vector<ReadState> read_states_;     // for the next Ready
  std::vector<uint64_t> reads_aborted_;
  // §3.10 leadership transfer (leader only).
  ServerId transfer_target_ = kNoServer;
  base::MonoTime transfer_deadline_ = base::MonoTime::never();

  std::vector<Message> msgs_;
  uint64_t next_ready_id_ = 1;
  uint64_t ready_out_ = 0;  // id of the Ready the host is performing, 0 if none
  Index ready_last_index_ = 0;  // last entry index that Ready persists (0: none)
  Term ready_last_term_ = 0;

  RaftCounters counters_;
};

}  // namespace raft
