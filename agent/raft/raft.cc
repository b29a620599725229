// RaftCore: see raft.h for the map of what is implemented where. Sections (§) are those of
// Ongaro's dissertation; "Figure 3.1" is its summary of the algorithm.
#include "agent/raft/raft.h"

#include <algorithm>

namespace raft {

const char* role_name(Role r) {
  switch (r) {
    case Role::kFollower: return "follower";
    case Role::kPreCandidate: return "pre-candidate";
    case Role::kCandidate: return "candidate";
    case Role::kLeader: return "leader";
  }
  return "unknown";
}

base::Status write_ready(Storage& storage, const Ready& ready) {
  if (ready.hard_state) AGENT_TRY(storage.save_hard_state(*ready.hard_state));
  if (ready.snapshot) AGENT_TRY(storage.apply_snapshot(ready.snapshot->meta));
  if (ready.truncate_from != 0) AGENT_TRY(storage.truncate_suffix(ready.truncate_from));
  if (!ready.entries.empty()) AGENT_TRY(storage.append(ready.entries));
  if (ready.compact_to != 0) AGENT_TRY(storage.compact(ready.compact_to));
  return base::Status::ok();
}

base::Status recover_snapshot(Storage& storage, const SnapshotMeta& saved) {
  const SnapshotMeta start = storage.snapshot_meta();
  if (saved.index == 0 || saved.term == 0) return base::error(base::Code::kInvalidArgument, "raft: no snapshot");
  if (saved.index < start.index) {
    return base::error(base::Code::kFailedPrecondition,
                       "raft: saved snapshot at %llu is older than the log start %llu: entries are lost",
                       static_cast<unsigned long long>(saved.index), static_cast<unsigned long long>(start.index));
  }
  if (saved.same_place(start)) return base::Status::ok();
  if (saved.index > start.index && saved.index <= storage.last_index()) {
    std::vector<Entry> at = storage.entries(saved.index);
    if (!at.empty() && at.front().index == saved.index && at.front().term == saved.term) return base::Status::ok();
  }
  // Step 1 of the Ready that carried it did not become durable: do it now. Its term may be newer
  // than the stored one (the same Ready carried the new term); adopting a higher term without a
  // vote is always safe (§3.3).
  HardState hs = storage.hard_state();
  if (hs.term < saved.term) AGENT_TRY(storage.save_hard_state(HardState{saved.term, kNoServer}));
  AGENT_TRY(storage.apply_snapshot(saved));
  if (storage.last_index() > saved.index) AGENT_TRY(storage.truncate_suffix(saved.index + 1));
  return storage.sync();
}

RaftCore::RaftCore(RaftConfig config, const Storage& storage, uint64_t seed, base::MonoTime now, Index applied)
    : config_(std::move(config)), prng_(seed) {
  AGENT_ASSERT_MSG(config_.validate().is_ok(), config_.validate().message().c_str());
  hs_ = storage.hard_state();
  // §5.1: the log may start after a snapshot's index; entries up to it are gone.
  start_ = storage.snapshot_meta();
  AGENT_ASSERT(start_.term <= hs_.term && (start_.index == 0) == (start_.term == 0));
  if (storage.last_index() > start_.index) log_ = storage.entries(start_.index + 1);
  for (size_t i = 0; i < log_.size(); ++i) {
    AGENT_ASSERT(log_[i].index == start_.index + 1 + i);
    AGENT_ASSERT(log_[i].term <= hs_.term && log_[i].term >= (i == 0 ? start_.term : log_[i - 1].term));
  }
  unstable_from_ = last_index() + 1;
  stable_ = last_index();
  // The state machine holds at least what the log no longer does (the host restores its
  // snapshot first), and nothing the log does not hold.
  AGENT_ASSERT_MSG(applied >= start_.index, "raft: state machine behind the log start (restore the snapshot first)");
  AGENT_ASSERT(applied <= last_index());
  // §4.1: the configuration in use is the latest one in the log, committed or not; with none,
  // the bootstrap voters of RaftConfig.
  for (const Entry& e : log_) {
    if (e.type == EntryType::kConfig) config_entries_.push_back(e.index);
  }
  refresh_membership();
  // The commit index is volatile (Figure 3.1): what we applied was committed, the rest we learn
  // again from a leader.
  commit_ = applied;
  applied_ = applied;
  // §3.4: servers start as followers and wait one (randomized) election timeout.
  reset_election_timer(now);
}

// --- membership (chapter 4) -------------------------------------------------------------------

bool RaftCore::is_voter(ServerId id) const {
  return std::find(members_.voters.begin(), members_.voters.end(), id) != members_.voters.end();
}

bool RaftCore::is_learner(ServerId id) const {
  return std::find(members_.learners.begin(), members_.learners.end(), id) != members_.learners.end();
}

// §4.1: "a server always uses the latest configuration in its log, regardless of whether the
// entry is committed." Called whenever a configuration entry is appended or truncated away. A
// leader tracks every member but itself (voters and learners alike receive the log).
//
// With no configuration entry after the log start (compacted into a snapshot, §5.1), the
// configuration is the one the snapshot recorded as of its index; with none recorded either, the
// bootstrap voters.
void RaftCore::refresh_membership() {
  if (config_entries_.empty()) {
    if (!start_.config.voters.empty()) {
      members_ = start_.config;
      members_index_ = start_.index;
    } else {
      members_ = Membership{};
      members_.voters = config_.voters;
      std::sort(members_.voters.begin(), members_.voters.end());
      members_index_ = 0;
    }
  } else {
    members_index_ = config_entries_.back();
    // Entries reach the log only through valid() (decoded), propose paths we build, or Storage
    // (which validates what it loads).
    base::Status st = wire::decode_raft_membership(entry(members_index_).data, &members_);
    AGENT_ASSERT_MSG(st.is_ok(), "raft: undecodable configuration entry in the log");
  }
  if (role_ != Role::kLeader) return;
  for (auto it = progress_.begin(); it != progress_.end();) {
    if (!is_voter(it->first) && !is_learner(it->first)) it = progress_.erase(it);
    else ++it;
  }
  for (const std::vector<ServerId>* list : {&members_.voters, &members_.learners}) {
    for (ServerId peer : *list) {
      if (peer == config_.id || progress_.count(peer) != 0) continue;
      progress_[peer].next = last_index() + 1;  // a new member starts in probe (§3.5)
    }
  }
}

// §4.1 / §5.1 ("the latest configuration as of the last included index"): the configuration in
// effect at index i -- the latest configuration entry at or before i, else the one the log start
// recorded, else the bootstrap voters. Always explicit (at least one voter for a configured
// server), so a snapshot carries it to a server that has no bootstrap configuration.
Membership RaftCore::membership_at(Index i) const {
  AGENT_ASSERT(i >= start_.index && i <= last_index());
  for (auto it = config_entries_.rbegin(); it != config_entries_.rend(); ++it) {
    if (*it > i) continue;
    Membership m;
    base::Status st = wire::decode_raft_membership(entry(*it).data, &m);
    AGENT_ASSERT_MSG(st.is_ok(), "raft: undecodable configuration entry in the log");
    return m;
  }
  if (!start_.config.voters.empty()) return start_.config;
  Membership m;
  m.voters = config_.voters;
  std::sort(m.voters.begin(), m.voters.end());
  return m;
}

SnapshotMeta RaftCore::snapshot_meta_at(Index i) const {
  return SnapshotMeta{i, term_at(i), membership_at(i)};
}

// Voters among `peers` that satisfy `pred`, plus ourselves when we vote and `self` holds.
template <class Pred>
size_t RaftCore::voters_where(bool self, Pred pred) const {
  size_t n = self && is_voter(config_.id) ? 1 : 0;
  for (auto& [peer, pr] : progress_) {
    if (is_voter(peer) && pred(pr)) ++n;
  }
  return n;
}

// --- small helpers ------------------------------------------------------------------------------

Term RaftCore::term_at(Index i) const {
  AGENT_ASSERT(i >= start_.index && i <= last_index());
  return i == start_.index ? start_.term : log_[i - start_.index - 1].term;
}

const Entry& RaftCore::entry(Index i) const {
  AGENT_ASSERT(i > start_.index && i <= last_index());
  return log_[i - start_.index - 1];
}

Index RaftCore::take_log_rewrite_low() {
  Index low = rewrite_low_;
  rewrite_low_ = UINT64_MAX;
  return low;
}

// §3.6.1: "Raft determines which of two logs is more up-to-date by comparing the index and term
// of the last entries in the logs. If the logs have last entries with different terms, then the
// log with the later term is more up-to-date. If the logs end with the same term, then whichever
// log is longer is more up-to-date."
bool RaftCore::log_up_to_date(Index idx, Term t) const {
  return t > last_term() || (t == last_term() && idx >= last_index());
}

// §4.2.3: "if a server receives a RequestVote request within the minimum election timeout of
// hearing from a current leader, it does not update its term or grant its vote." A leader is
// its own current leader. Tied to check_quorum as in etcd raft: the two together are what keep
// a removed or cut-off server from deposing a healthy leader.
bool RaftCore::in_lease(base::MonoTime now) const {
  if (!config_.check_quorum) return false;
  if (role_ == Role::kLeader) return true;
  return leader_ != kNoServer && heard_leader_ && now - leader_contact_ < config_.election_timeout;
}

// §3.4: "Raft uses randomized election timeouts ... chosen randomly from a fixed interval
// (e.g., 150-300 ms)": here [election_timeout, 2 * election_timeout).
void RaftCore::reset_election_timer(base::MonoTime now) {
  const int64_t base_ns = config_.election_timeout.ns();
  election_deadline_ = now + base::Duration::nanos(base_ns + static_cast<int64_t>(prng_.uniform(uint64_t(base_ns))));
}

void RaftCore::set_hard_state(Term term, ServerId voted_for) {
  AGENT_ASSERT(term >= hs_.term);
  if (term == hs_.term && voted_for == hs_.voted_for) return;
  // One vote per term (§3.4): within a term the vote may only go from "none" to someone.
  AGENT_ASSERT(term > hs_.term || hs_.voted_for == kNoServer || hs_.voted_for == voted_for);
  hs_.term = term;
  hs_.voted_for = voted_for;
  hs_dirty_ = true;
}

void RaftCore::send(Message m) {
  m.from = config_.id;
  if (m.term == 0) m.term = hs_.term;
  ++counters_.messages_out;
  msgs_.push_back(std::move(m));
}

void RaftCore::truncate_from(Index i) {
  AGENT_ASSERT(i > start_.index && i <= last_index());
  // Committed entries are never removed (State Machine Safety, §3.6.3); a leader that asks for
  // it is broken, and so are we if we would do it.
  AGENT_ASSERT_MSG(i > commit_, "raft: truncating a committed entry");
  log_.resize(i - 1 - start_.index);
  ++counters_.truncations;
  // §4.1: "a log entry for a configuration change can be removed (if leadership changes); in
  // this case, a server must be prepared to fall back to the previous configuration in its log."
  bool config_lost = false;
  while (!config_entries_.empty() && config_entries_.back() >= i) {
    config_entries_.pop_back();
    config_lost = true;
  }
  if (config_lost) refresh_membership();
  rewrite_low_ = std::min(rewrite_low_, i);
  if (i < unstable_from_) {
    unstable_from_ = i;
    truncated_ = true;
  }
  stable_ = std::min(stable_, i - 1);
}

void RaftCore::append_local(Entry e) {
  AGENT_ASSERT(e.index == last_index() + 1);
  AGENT_ASSERT(e.term >= last_term());
  const bool config = e.type == EntryType::kConfig;
  log_.push_back(std::move(e));
  if (config) {
    // §4.1: a configuration takes effect as soon as it is in the log.
    config_entries_.push_back(last_index());
    refresh_membership();
  }
}

// --- roles ----------------------------------------------------------------------------------------

// §3.3: "If a server's current term is smaller than the other's, then it updates its current
// term to the larger value. If a candidate or leader discovers that its term is out of date, it
// immediately reverts to follower state."
void RaftCore::become_follower(Term term, ServerId leader, base::MonoTime now) {
  if (term > hs_.term) {
    set_hard_state(term, kNoServer);
    incoming_.reset();  // a partial snapshot from an earlier term's leader will not be finished
  }
  if (role_ == Role::kLeader) abort_reads();
  role_ = Role::kFollower;
  leader_ = leader;
  heard_leader_ = false;
  progress_.clear();
  transfer_target_ = kNoServer;
  transfer_deadline_ = base::MonoTime::never();
  votes_.clear();
  heartbeat_deadline_ = base::MonoTime::never();
  check_quorum_deadline_ = base::MonoTime::never();
  reset_election_timer(now);
}

// §9.6: "a candidate would first ask other servers whether its log was up-to-date enough to get
// their vote. Only if the candidate believed it could get votes from a majority of the cluster
// would it increment its term and start a normal election." The pre-vote names term + 1 and
// changes nothing on either side.
void RaftCore::start_pre_vote(base::MonoTime now) {
  role_ = Role::kPreCandidate;
  leader_ = kNoServer;
  heard_leader_ = false;
  votes_.clear();
  votes_[config_.id] = true;
  ++counters_.pre_votes_started;
  reset_election_timer(now);
  if (votes_.size() >= quorum()) return start_election(now);
  request_votes(hs_.term + 1, true);
}

// RequestVote (or, with pre_vote, the pre-vote that names `term` without taking it, §9.6) to
// every other voter, carrying our last log index and term for the §3.6.1 up-to-date check.
void RaftCore::request_votes(Term term, bool pre_vote, bool transfer) {
  for (ServerId peer : members_.voters) {
    if (peer == config_.id) continue;
    Message m;
    m.type = RaftType::kRequestVote;
    m.to = peer;
    m.term = term;
    m.pre_vote = pre_vote;
    m.transfer = transfer;
    m.last_log_index = last_index();
    m.last_log_term = last_term();
    send(std::move(m));
  }
}

// §3.4: "To begin an election, a follower increments its current term and transitions to
// candidate state. It then votes for itself and issues RequestVote RPCs in parallel to each of
// the other servers." The term and self-vote are persisted before the requests go (Ready).
// `transfer`: the leader asked for this campaign (TimeoutNow, §3.10); the requests say so.
void RaftCore::start_election(base::MonoTime now, bool transfer) {
  role_ = Role::kCandidate;
  leader_ = kNoServer;
  heard_leader_ = false;
  set_hard_state(hs_.term + 1, config_.id);
  votes_.clear();
  votes_[config_.id] = true;
  ++counters_.elections_started;
  reset_election_timer(now);
  if (votes_.size() >= quorum()) return become_leader(now);
  request_votes(hs_.term, false, transfer);
}

void RaftCore::become_leader(base::MonoTime now) {
  AGENT_ASSERT(role_ == Role::kCandidate);
  AGENT_ASSERT(reads_waiting_.empty() && reads_pending_.empty());
  role_ = Role::kLeader;
  transfer_target_ = kNoServer;
  transfer_deadline_ = base::MonoTime::never();
  leader_ = config_.id;
  votes_.clear();
  ++counters_.leaderships;
  progress_.clear();
  // §3.5: "When a leader first comes to power, it initializes all nextIndex values to the index
  // just after the last one in its log." Followers start in probe.
  for (const std::vector<ServerId>* list : {&members_.voters, &members_.learners}) {
    for (ServerId peer : *list) {
      if (peer == config_.id) continue;
      Progress& pr = progress_[peer];
      pr.next = last_index() + 1;
    }
  }
  // §6.4 / §3.6.2: a leader commits entries of earlier terms only through an entry of its own
  // term, so it appends a no-op at the start of its term.
  append_local(Entry{last_index() + 1, hs_.term, EntryType::kNoop, {}});
  heartbeat_deadline_ = now + config_.heartbeat_interval;
  check_quorum_deadline_ = now + config_.election_timeout;
  broadcast_append(/*heartbeat=*/true, now);
  maybe_commit(now);  // a single-server cluster commits once its own write is durable
}

// --- time -----------------------------------------------------------------------------------------

base::MonoTime RaftCore::next_deadline() const {
  if (role_ == Role::kLeader) return std::min({heartbeat_deadline_, check_quorum_deadline_, transfer_deadline_});
  return election_deadline_;
}

void RaftCore::on_tick(base::MonoTime now) {
  if (role_ == Role::kLeader) {
    // §3.10: "If the transfer does not complete within an election timeout, the prior leader
    // aborts the transfer and resumes accepting client requests."
    if (now >= transfer_deadline_) {
      ++counters_.transfers_abandoned;
      transfer_target_ = kNoServer;
      transfer_deadline_ = base::MonoTime::never();
    }
    // §6.2: "a leader steps down if an election timeout elapses without a successful round of
    // heartbeats to a majority of its cluster".
    if (now >= check_quorum_deadline_) {
      check_quorum_deadline_ = now + config_.election_timeout;
      if (config_.check_quorum) {
        const size_t active = voters_where(true, [](const Progress& pr) { return pr.recent_active; });
        for (auto& [peer, pr] : progress_) pr.recent_active = false;
        if (active < quorum()) {
          ++counters_.check_quorum_stepdowns;
          become_follower(hs_.term, kNoServer, now);
          return;
        }
      }
    }
    // §3.5: "Leaders send periodic heartbeats (AppendEntries RPCs that carry no log entries) to
    // all followers in order to maintain their authority."
    if (now >= heartbeat_deadline_) {
      heartbeat_deadline_ = now + config_.heartbeat_interval;
      broadcast_append(/*heartbeat=*/true, now);
    }
    return;
  }
  // §3.4: "If a follower receives no communication over a period of time called the election
  // timeout, then it assumes there is no viable leader and begins an election." Candidates
  // whose election timed out (split vote) start another.
  if (now >= election_deadline_) {
    if (!is_voter(config_.id)) {
      // A learner, a server being added, or one removed (§4.2.2): it never campaigns.
      reset_election_timer(now);
      return;
    }
    if (config_.pre_vote) start_pre_vote(now);
    else start_election(now);
  }
}

// --- messages ---------------------------------------------------------------------------------------

// A term no real cluster reaches: one election per microsecond would take 146,000 years. A message
// beyond it is forged or corrupt; refusing it keeps term + 1 (pre-vote, elections) from ever
// overflowing. (Found by the fuzzer: a TimeoutNow at term 2^64 - 1.)
constexpr Term kTermMax = Term{1} << 62;

bool RaftCore::valid(const Message& m) const {
  if (m.to != config_.id || m.from == config_.id) return false;
  if (m.term > kTermMax) return false;
  // §4.1: "servers process incoming RPC requests without consulting their current
  // configurations" -- a new server must hear a leader it does not know of yet, and a server
  // must vote for a candidate added by an entry it has not received. Answers count only from
  // members (tally, progress).
  if (m.type == RaftType::kAppendEntries) {
    Term prev_term = m.prev_log_term;
    if (m.prev_log_index == 0 && m.prev_log_term != 0) return false;
    for (size_t i = 0; i < m.entries.size(); ++i) {
      const Entry& e = m.entries[i];
      // Entries follow prev_log_index, their terms never decrease, and none is from a term
      // after the leader's.
      if (e.index != m.prev_log_index + 1 + i || e.term < prev_term || e.term > m.term || e.term == 0) return false;
      wire::RaftMembership members;
      if (e.type == EntryType::kConfig && !wire::decode_raft_membership(e.data, &members).is_ok()) return false;
      prev_term = e.term;
    }
  }
  // Figure 5.3: a snapshot holds committed entries only, none from a term after the leader's.
  if (m.type == RaftType::kInstallSnapshot && m.snapshot_term > m.term) return false;
  // §4.1 / §5.1: a snapshot carries the configuration as of its index, at least one voter (the
  // decoder checks it; a host may also build messages itself).
  if (m.type == RaftType::kInstallSnapshot && m.snapshot_config.voters.empty()) return false;
  return true;
}

void RaftCore::on_message(const Message& m, base::MonoTime now) {
  ++counters_.messages_in;
  if (!valid(m)) {
    ++counters_.invalid_messages;
    return;
  }
  if (m.term > hs_.term) {
    // §4.2.3 / §3.10: a campaign the leader asked for (TimeoutNow) carries the transfer flag and
    // is not subject to the lease -- the leader itself gave it up. Pre-votes never are.
    const bool transfer = m.type == RaftType::kRequestVote && m.transfer && !m.pre_vote;
    if (m.type == RaftType::kRequestVote && in_lease(now) && !transfer) {
      // §4.2.3: a live leader's follower ignores the (pre-)vote and keeps its term; answering
      // with a refusal at our (lower) term changes nothing for the candidate.
      ++counters_.votes_refused_sticky;
      Message r;
      r.type = RaftType::kRequestVoteReply;
      r.to = m.from;
      r.pre_vote = m.pre_vote;
      r.granted = false;
      send(std::move(r));
      return;
    }
    if (m.type == RaftType::kRequestVote && m.pre_vote) {
      // §9.6: a pre-vote request names the term the candidate would take; it changes no term.
    } else if (m.type == RaftType::kRequestVoteReply && m.pre_vote && m.granted) {
      // A granted pre-vote echoes the proposed term; it is not a term anyone is in.
    } else {
      // §3.3: adopt the higher term as a follower; an AppendEntries names its leader.
      const bool from_leader = m.type == RaftType::kAppendEntries || m.type == RaftType::kInstallSnapshot;
      become_follower(m.term, from_leader ? m.from : kNoServer, now);
    }
  } else if (m.term < hs_.term) {
    ++counters_.stale_messages;
    if (m.type == RaftType::kAppendEntries) {
      // §3.3: "If a server receives a request with a stale term number, it rejects the request."
      // The rejection carries our term, which makes a stale leader step down; with stickiness
      // on this is also what frees a server whose term ran ahead (see raft.h).
      Message r;
      r.type = RaftType::kAppendEntriesReply;
      r.to = m.from;
      r.success = false;
      r.index = m.prev_log_index;
      r.last_log_index = last_index();
      send(std::move(r));
    } else if (m.type == RaftType::kRequestVote) {
      Message r;
      r.type = RaftType::kRequestVoteReply;
      r.to = m.from;
      r.pre_vote = m.pre_vote;
      r.granted = false;
      send(std::move(r));
    } else if (m.type == RaftType::kInstallSnapshot) {
      // Figure 5.3 receiver 1: a request from an older term is answered at once, with our term.
      Message r;
      r.type = RaftType::kInstallSnapshotReply;
      r.to = m.from;
      r.snapshot_index = m.snapshot_index;
      r.last_log_index = last_index();
      send(std::move(r));
    }
    return;
  }

  switch (m.type) {
    case RaftType::kRequestVote: handle_request_vote(m, now); break;
    case RaftType::kRequestVoteReply: tally(m, now); break;
    case RaftType::kAppendEntries: handle_append_entries(m, now); break;
    case RaftType::kAppendEntriesReply: handle_append_reply(m, now); break;
    case RaftType::kTimeoutNow: handle_timeout_now(m, now); break;
    case RaftType::kInstallSnapshot: handle_install_snapshot(m, now); break;
    case RaftType::kInstallSnapshotReply: handle_snapshot_reply(m, now); break;
  }
}

void RaftCore::handle_request_vote(const Message& m, base::MonoTime now) {
  Message r;
  r.type = RaftType::kRequestVoteReply;
  r.to = m.from;
  r.pre_vote = m.pre_vote;
  if (m.pre_vote) {
    // §9.6: grant a pre-vote when the candidate's proposed term is ahead of ours and its log is
    // at least as up to date (§3.6.1); stickiness was checked above. Nothing is recorded.
    r.granted = m.term > hs_.term && log_up_to_date(m.last_log_index, m.last_log_term);
    r.term = r.granted ? m.term : hs_.term;
    send(std::move(r));
    return;
  }
  // m.term == our term here. §3.4: "Each server will vote for at most one candidate in a given
  // term, on a first-come-first-served basis"; §3.6.1: only for an up-to-date log. A server that
  // knows this term's leader does not vote (the leader won already).
  const bool can_vote = hs_.voted_for == m.from || (hs_.voted_for == kNoServer && leader_ == kNoServer);
  r.granted = can_vote && log_up_to_date(m.last_log_index, m.last_log_term);
  if (r.granted) {
    set_hard_state(hs_.term, m.from);  // persisted before the reply leaves (Ready, §3.8)
    ++counters_.votes_granted;
    // §3.4: granting a vote resets the election timer.
    reset_election_timer(now);
  }
  send(std::move(r));
}

void RaftCore::tally(const Message& m, base::MonoTime now) {
  // Pre-vote answers are for term + 1 (granted) or carry the voter's term (refused, and not
  // higher than ours if we got here); real answers are for our term.
  const bool for_us = (role_ == Role::kPreCandidate && m.pre_vote && (m.term == hs_.term + 1 || !m.granted)) ||
                      (role_ == Role::kCandidate && !m.pre_vote && m.term == hs_.term);
  if (!for_us) {
    ++counters_.stale_messages;
    return;
  }
  // Only voters of our configuration count (§4.1); the first answer of each counts.
  if (is_voter(m.from)) votes_.emplace(m.from, m.granted);
  size_t granted = 0, refused = 0;
  for (auto& [id, g] : votes_) (g ? granted : refused)++;
  if (granted >= quorum()) {
    // §3.4: "A candidate wins an election if it receives votes from a majority of the servers in
    // the full cluster for the same term." A won pre-vote starts the real election.
    if (role_ == Role::kPreCandidate) start_election(now);
    else become_leader(now);
  } else if (refused >= quorum()) {
    // Lost: wait as a follower for a leader or our next timeout.
    become_follower(hs_.term, kNoServer, now);
  }
}

void RaftCore::handle_append_entries(const Message& m, base::MonoTime now) {
  if (role_ == Role::kLeader) {
    // Two leaders in one term cannot happen (Election Safety); a message claiming it is bogus.
    ++counters_.invalid_messages;
    return;
  }
  // §3.4: "If the leader's term ... is at least as large as the candidate's current term, then
  // the candidate recognizes the leader as legitimate and returns to follower state."
  if (role_ != Role::kFollower) become_follower(hs_.term, m.from, now);
  leader_ = m.from;
  leader_contact_ = now;
  heard_leader_ = true;
  reset_election_timer(now);

  Message r;
  r.type = RaftType::kAppendEntriesReply;
  r.to = m.from;
  // §6.4: echo the leader's read round. Any answer at its term -- success or a failed
  // consistency check -- shows we took it for this term's leader when the request arrived.
  r.read_seq = m.read_seq;
  Index prev = m.prev_log_index;
  size_t skip = 0;  // entries of the message that our snapshot covers
  if (prev < start_.index) {
    // §5.1: entries up to our log start are in a snapshot, which holds only committed entries,
    // and the leader holds every committed entry (Leader Completeness) with the same history
    // (Log Matching): they match without a check. Continue from the log start.
    const Index covered = start_.index - prev;
    if (m.entries.size() <= covered) {
      r.success = true;
      r.index = start_.index;  // we match the leader up to here
      r.last_log_index = last_index();
      send(std::move(r));
      return;
    }
    skip = static_cast<size_t>(covered);
    if (m.entries[skip - 1].term != start_.term) {
      ++counters_.invalid_messages;  // a leader that disagrees with a committed entry is broken
      return;
    }
    prev = start_.index;
  }
  const Term prev_term = skip > 0 ? start_.term : m.prev_log_term;
  // §3.5 consistency check (Figure 3.1, AppendEntries receiver 2): "Reply false if log doesn't
  // contain an entry at prevLogIndex whose term matches prevLogTerm."
  if (prev > last_index()) {
    // §5.3 fast back-off: our log ends early; the leader continues from our end.
    ++counters_.append_rejections;
    r.success = false;
    r.index = m.prev_log_index;
    r.conflict_index = last_index() + 1;
    r.conflict_term = 0;
    r.last_log_index = last_index();
    send(std::move(r));
    return;
  }
  if (term_at(prev) != prev_term) {
    // §5.3: name the conflicting term and the first index we hold for it, so the leader can skip
    // the whole term in one round trip.
    ++counters_.append_rejections;
    const Term ct = term_at(prev);
    Index first = prev;
    while (first > start_.index + 1 && term_at(first - 1) == ct) --first;
    r.success = false;
    r.index = m.prev_log_index;
    r.conflict_term = ct;
    r.conflict_index = first;
    r.last_log_index = last_index();
    send(std::move(r));
    return;
  }
  // Figure 3.1, receiver 3 and 4: "If an existing entry conflicts with a new one (same index but
  // different terms), delete the existing entry and all that follow it. Append any new entries
  // not already in the log." Entries we already hold are kept: a stale or reordered message must
  // not cut off entries a newer one appended.
  for (size_t k = skip; k < m.entries.size(); ++k) {
    const Entry& e = m.entries[k];
    if (e.index <= last_index()) {
      if (term_at(e.index) == e.term) continue;
      if (e.index <= commit_) {
        // A leader rewriting what we know committed is a broken peer, not our invariant: refuse.
        ++counters_.invalid_messages;
        return;
      }
      truncate_from(e.index);
    }
    append_local(e);
    ++counters_.entries_appended;
  }
  // Figure 3.1, receiver 5: "If leaderCommit > commitIndex, set commitIndex = min(leaderCommit,
  // index of last new entry)" -- the last entry this message vouches for, not our log's end.
  const Index vouched = m.prev_log_index + m.entries.size();
  if (m.leader_commit > commit_) commit_ = std::max(commit_, std::min(m.leader_commit, vouched));
  r.success = true;
  r.index = vouched;
  r.last_log_index = last_index();
  send(std::move(r));  // after the entries are durable (Ready, §3.8)
}

void RaftCore::handle_append_reply(const Message& m, base::MonoTime now) {
  if (role_ != Role::kLeader) {
    ++counters_.stale_messages;
    return;
  }
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  Progress& pr = it->second;
  pr.recent_active = true;
  pr.answered = true;
  pr.answered_at = now;
  // §6.4: an answer at our term to a request that carried read round s confirms our leadership
  // for every read registered before round s went out.
  if (m.read_seq > pr.read_ack && m.read_seq <= read_seq_) {
    pr.read_ack = m.read_seq;
    release_reads();
  }
  if (pr.snap.data) {
    // A snapshot is on its way (§5.1): answers to heartbeats only say how far the follower
    // matches; once that reaches our log start the snapshot is no longer needed.
    if (!m.success || m.index > last_index() || m.index <= pr.match) return;
    pr.match = m.index;
    pr.progress_at = now;
    if (pr.match < start_.index) return;
    pr.snap = Snapshot{};
    pr.next = pr.match + 1;
    pr.replicate = false;
    pr.probe_sent = false;
  }
  if (m.success) {
    if (m.index > last_index()) {
      ++counters_.invalid_messages;  // acknowledges entries we never sent
      return;
    }
    if (m.index > pr.match) {
      pr.match = m.index;
      pr.progress_at = now;
    }
    pr.next = std::max(pr.next, pr.match + 1);
    while (!pr.inflight.empty() && pr.inflight.front() <= m.index) pr.inflight.pop_front();
    if (!pr.replicate) {
      // §10.2.2: the follower matches; from now on pipeline.
      pr.replicate = true;
      pr.probe_sent = false;
      pr.next = pr.match + 1;
      pr.inflight.clear();
      pr.progress_at = now;
    }
    maybe_commit(now);
    // A leader whose own removal just committed stepped down (§4.2.2): `pr` is gone.
    if (role_ != Role::kLeader) return;
    replicate_to(m.from, pr, /*heartbeat=*/false, now);
    maybe_timeout_now(m.from, pr);
    return;
  }
  // A rejection. One about a position at or before what is known to match is stale (reordered).
  if (m.index <= pr.match) {
    ++counters_.stale_messages;
    return;
  }
  // §5.3 fast back-off: if we hold the conflicting term, continue after our last entry of it;
  // otherwise from the first index the follower holds for that term (or its log's end).
  Index next = m.conflict_index;
  if (m.conflict_term != 0) {
    Index i = std::min(m.index, last_index());
    while (i > start_.index && term_at(i) > m.conflict_term) --i;
    if (i >= start_.index && i > 0 && term_at(i) == m.conflict_term) next = i + 1;
  }
  // Never below what matches, never at or past the rejected position (progress each round).
  next = std::max(next, pr.match + 1);
  next = std::min(next, m.index);
  pr.next = std::max<Index>(next, 1);
  pr.replicate = false;
  pr.inflight.clear();
  pr.probe_sent = false;
  replicate_to(m.from, pr, /*heartbeat=*/false, now);
}

// --- replication (leader) -------------------------------------------------------------------

void RaftCore::send_append(ServerId peer, Progress& pr, Index prev, bool with_entries, base::MonoTime now) {
  Message m;
  m.type = RaftType::kAppendEntries;
  m.to = peer;
  m.prev_log_index = prev;
  // prev 0 (a heartbeat to a follower that needs a snapshot) vouches for nothing.
  m.prev_log_term = prev == 0 ? 0 : term_at(prev);
  size_t bytes = 0;
  if (with_entries) {
    // §10.2 batching: entries from prev + 1 up to the count and byte budgets (at least one).
    for (Index i = prev + 1; i <= last_index() && m.entries.size() < config_.append_entries_max; ++i) {
      const size_t b = wire::encoded_entry_bytes(entry(i));
      if (!m.entries.empty() && bytes + b > config_.append_entries_bytes_max) break;
      bytes += b;
      m.entries.push_back(entry(i));
    }
  }
  // The follower commits at most up to the last entry this message vouches for (receiver 5).
  m.leader_commit = commit_;
  m.read_seq = read_seq_;  // §6.4: the reply echoes it
  const Index last = prev + m.entries.size();
  if (pr.replicate && !m.entries.empty()) {
    if (pr.inflight.empty()) pr.progress_at = now;
    pr.inflight.push_back(last);
    pr.next = last + 1;  // §10.2.2 optimistic advance
  }
  send(std::move(m));
}

void RaftCore::replicate_to(ServerId peer, Progress& pr, bool heartbeat, base::MonoTime now) {
  // §5.1: the leader sends its snapshot to a follower that lags behind -- when the next entry it
  // needs was compacted away.
  if (!pr.snap.data && pr.next <= start_.index && now >= pr.snap_retry_at) start_snapshot(peer, pr, now);
  if (pr.snap.data || pr.next <= start_.index) {
    if (pr.snap.data) send_snapshot_chunks(peer, pr, now);
    // Heartbeats go on (authority, §6.4 read rounds), vouching only for what matches.
    if (heartbeat) send_append(peer, pr, pr.match >= start_.index ? pr.match : 0, /*with_entries=*/false, now);
    return;
  }
  if (!pr.replicate) {
    // Probe: one message at a time, repeated each heartbeat until one is answered.
    if (pr.probe_sent && !heartbeat) return;
    pr.probe_sent = true;
    send_append(peer, pr, pr.next - 1, /*with_entries=*/true, now);
    return;
  }
  bool sent = false;
  while (pr.next <= last_index() && pr.inflight.size() < config_.inflight_max) {
    send_append(peer, pr, pr.next - 1, /*with_entries=*/true, now);
    sent = true;
  }
  if (heartbeat && !sent) {
    // A heartbeat vouches only for what is known to match, so it neither fails on entries still
    // in flight nor lets the follower commit past them (nothing, if that was compacted away).
    send_append(peer, pr, pr.match >= start_.index ? pr.match : 0, /*with_entries=*/false, now);
  }
}

void RaftCore::broadcast_append(bool heartbeat, base::MonoTime now) {
  for (auto& [peer, pr] : progress_) {
    if (heartbeat && pr.snap.data && pr.snap_sent > pr.snap_acked && now - pr.progress_at >= config_.heartbeat_interval * 2) {
      // Chunks out for two heartbeat intervals and no byte acknowledged: resend the window.
      pr.snap_sent = pr.snap_acked;
      pr.snap_done_sent = false;
      pr.progress_at = now;
      ++counters_.snapshot_resends;
    }
    if (heartbeat && pr.replicate && !pr.inflight.empty() && now - pr.progress_at >= config_.heartbeat_interval * 2) {
      // Pipelined messages out for two heartbeat intervals and match_index has not moved: assume
      // they were lost and probe again from what is known to match. (A heartbeat's success
      // does not count: it vouches only for match_index.)
      pr.replicate = false;
      pr.inflight.clear();
      pr.next = pr.match + 1;
      pr.probe_sent = false;
    }
    replicate_to(peer, pr, heartbeat, now);
  }
}

// §3.6.2: "Raft never commits log entries from previous terms by counting replicas. Only log
// entries from the leader's current term are committed by counting replicas; once an entry from
// the current term has been committed in this way, then all prior entries are committed
// indirectly because of the Log Matching Property." §10.2.1: the leader counts itself with what
// is durable on its own disk.
void RaftCore::maybe_commit(base::MonoTime now) {
  if (role_ != Role::kLeader) return;
  // §4.2.2: a leader that is not in the configuration it leads under "replicates log entries but
  // does not count itself in majorities".
  std::vector<Index> match;
  if (is_voter(config_.id)) match.push_back(stable_);
  for (auto& [peer, pr] : progress_) {
    if (is_voter(peer)) match.push_back(pr.match);
  }
  if (match.size() < quorum()) return;
  std::sort(match.begin(), match.end(), std::greater<Index>());
  const Index n = match[quorum() - 1];
  if (n <= commit_) return;
  if (term_at(n) != hs_.term && !config_.debug_commit_previous_term) return;
  commit_ = n;
  // §4.2.2: "once the C_new entry is committed", a leader that is not part of it "steps down
  // (returns to follower state)"; the new configuration's voters elect the next leader.
  if (!is_voter(config_.id) && members_index_ != 0 && commit_ >= members_index_) {
    ++counters_.removed_stepdowns;
    become_follower(hs_.term, kNoServer, now);
    return;
  }
  // §6.4 step 1 done: this term's first commit releases the reads that waited for it.
  if (term_at(commit_) == hs_.term) {
    while (!reads_waiting_.empty()) {
      const uint64_t ctx = reads_waiting_.front();
      reads_waiting_.pop_front();
      start_read(ctx, now);
    }
  }
}

base::Status RaftCore::not_leader() const {
  if (leader_ != kNoServer) {
    return base::error(base::Code::kUnavailable, "raft: not the leader (leader is %llu)",
                       static_cast<unsigned long long>(leader_));
  }
  return base::error(base::Code::kUnavailable, "raft: not the leader (no leader known)");
}

base::Result<Index> RaftCore::propose(std::string data, base::MonoTime now) {
  if (role_ != Role::kLeader) return not_leader();
  if (transfer_target_ != kNoServer) {
    // §3.10: "the prior leader stops accepting new client requests" during a transfer.
    return base::error(base::Code::kUnavailable, "raft: transferring leadership to %llu",
                       static_cast<unsigned long long>(transfer_target_));
  }
  if (data.size() > config_.entry_bytes_max) {
    return base::error(base::Code::kInvalidArgument, "raft: command of %zu bytes over entry_bytes_max (%zu)",
                       data.size(), config_.entry_bytes_max);
  }
  if (last_index() - commit_ >= config_.uncommitted_entries_max) {
    return base::error(base::Code::kResourceExhausted, "raft: %zu uncommitted entries (uncommitted_entries_max)",
                       config_.uncommitted_entries_max);
  }
  ++counters_.proposals;
  const Index idx = last_index() + 1;
  append_local(Entry{idx, hs_.term, EntryType::kCommand, std::move(data)});
  // Pipelining: followers that match get the new entry now rather than at the next heartbeat.
  for (auto& [peer, pr] : progress_) {
    if (pr.replicate) replicate_to(peer, pr, /*heartbeat=*/false, now);
  }
  return idx;
}

// --- reads (§6.4 ReadIndex) -------------------------------------------------------------------------

base::Status RaftCore::read_index(uint64_t ctx, base::MonoTime now) {
  if (role_ != Role::kLeader) return not_leader();
  if (config_.debug_read_local) {
    // Negative control: serve from local state at once, as if we surely were the leader.
    read_states_.push_back(ReadState{ctx, commit_});
    ++counters_.reads_requested;
    ++counters_.reads_confirmed;
    return base::Status::ok();
  }
  if (reads_pending() >= config_.read_requests_max) {
    return base::error(base::Code::kResourceExhausted, "raft: %zu reads pending (read_requests_max)",
                       config_.read_requests_max);
  }
  ++counters_.reads_requested;
  // §6.4 step 1: "If the leader has not yet marked an entry from its current term committed, it
  // waits until it has done so." Until then its commit index may be below entries that earlier
  // leaders committed; its no-op (become_leader) ends the wait.
  if (term_at(commit_) != hs_.term) {
    reads_waiting_.push_back(ctx);
    return base::Status::ok();
  }
  start_read(ctx, now);
  return base::Status::ok();
}

void RaftCore::start_read(uint64_t ctx, base::MonoTime now) {
  AGENT_ASSERT(role_ == Role::kLeader && term_at(commit_) == hs_.term);
  // §6.4 step 2: "The leader saves its current commit index in a local variable readIndex."
  const Index index = commit_;
  // §6.4 step 3: "The leader needs to make sure it hasn't been superseded by a newer leader of
  // which it is unaware. It issues a new round of heartbeats and waits for their
  // acknowledgments from a majority of the cluster." A single-voter cluster is its own majority.
  if (voters_where(true, [](const Progress&) { return false; }) >= quorum()) {
    read_states_.push_back(ReadState{ctx, index});
    ++counters_.reads_confirmed;
    return;
  }
  if (!read_round_unsent_) {
    // A new round; reads arriving before its heartbeats leave (the next Ready) share it, which is
    // sound because every answer to it comes after they were registered.
    ++read_seq_;
    ++counters_.read_rounds;
    read_round_unsent_ = true;
    broadcast_append(/*heartbeat=*/true, now);
  }
  reads_pending_.push_back(PendingRead{ctx, index, read_seq_});
}

// §6.4 step 4: reads whose round a majority (counting us) answered are confirmed, oldest first;
// "the leader ... can now be sure that it was the leader" when the read was registered.
void RaftCore::release_reads() {
  while (!reads_pending_.empty()) {
    const PendingRead& r = reads_pending_.front();
    const uint64_t seq = r.seq;
    if (voters_where(true, [seq](const Progress& pr) { return pr.read_ack >= seq; }) < quorum()) return;
    read_states_.push_back(ReadState{r.ctx, r.index});
    ++counters_.reads_confirmed;
    reads_pending_.pop_front();
  }
}

void RaftCore::abort_reads() {
  for (uint64_t ctx : reads_waiting_) reads_aborted_.push_back(ctx);
  for (const PendingRead& r : reads_pending_) reads_aborted_.push_back(r.ctx);
  counters_.reads_aborted += reads_waiting_.size() + reads_pending_.size();
  reads_waiting_.clear();
  reads_pending_.clear();
  read_round_unsent_ = false;
}

// --- leadership transfer (§3.10) ------------------------------------------------------------------

base::Status RaftCore::transfer_leadership(ServerId target, base::MonoTime now) {
  if (role_ != Role::kLeader) return not_leader();
  if (transfer_target_ != kNoServer) {
    return base::error(base::Code::kFailedPrecondition, "raft: a transfer to %llu is under way",
                       static_cast<unsigned long long>(transfer_target_));
  }
  if (target == kNoServer) {
    // The voter that needs the least catching up: the highest match index (lowest id on ties).
    Index best = 0;
    for (auto& [peer, pr] : progress_) {
      if (!is_voter(peer)) continue;
      if (target == kNoServer || pr.match > best) {
        target = peer;
        best = pr.match;
      }
    }
    if (target == kNoServer) return base::error(base::Code::kFailedPrecondition, "raft: no other voter");
  } else if (target == config_.id) {
    return base::error(base::Code::kInvalidArgument, "raft: transfer to ourselves");
  } else if (progress_.find(target) == progress_.end() || !is_voter(target)) {
    return base::error(base::Code::kInvalidArgument, "raft: transfer target %llu is not a voter",
                       static_cast<unsigned long long>(target));
  }
  ++counters_.transfers_started;
  // §3.10: "1. The prior leader stops accepting new client requests. 2. The prior leader fully
  // updates the target server's log to match its own ... 3. The prior leader sends a TimeoutNow
  // request to the target server." Abandoned after an election timeout (on_tick).
  transfer_target_ = target;
  transfer_deadline_ = now + config_.election_timeout;
  Progress& pr = progress_.at(target);
  if (pr.match == last_index()) maybe_timeout_now(target, pr);
  else replicate_to(target, pr, /*heartbeat=*/true, now);
  return base::Status::ok();
}

// Sent again on every successful answer while the target matches (a lost TimeoutNow is
// repeated within a heartbeat); the target ignores those that arrive after it moved on.
void RaftCore::maybe_timeout_now(ServerId peer, const Progress& pr) {
  if (peer != transfer_target_ || pr.match != last_index()) return;
  Message m;
  m.type = RaftType::kTimeoutNow;
  m.to = peer;
  ++counters_.timeout_now_sent;
  send(std::move(m));
}

// §3.10: "This request has the same effect as the target server's election timer firing: the
// target server starts a new election (incrementing its term and becoming a candidate)." It skips
// pre-vote, which its peers (still in the leader's lease) would refuse, and says so in its
// RequestVotes (§4.2.3).
void RaftCore::handle_timeout_now(const Message& m, base::MonoTime now) {
  if (role_ == Role::kLeader) {
    ++counters_.invalid_messages;  // from another leader of our term: cannot be
    return;
  }
  if (!is_voter(config_.id)) return;  // a learner or a removed server does not campaign
  ++counters_.transfer_elections;
  start_election(now, /*transfer=*/true);
}

// --- snapshots and log compaction (chapter 5) -------------------------------------------------------

base::Status RaftCore::set_snapshot(SnapshotMeta meta, std::shared_ptr<const std::string> data) {
  if (!data || meta.index == 0 || meta.term == 0 || data->size() > wire::kSnapshotBytesMax) {
    return base::error(base::Code::kInvalidArgument, "raft: a snapshot needs data, an index and a term");
  }
  if (meta.index < start_.index) {
    return base::error(base::Code::kFailedPrecondition,
                       "raft: snapshot at %llu is older than the log start %llu (the entries between are lost)",
                       static_cast<unsigned long long>(meta.index), static_cast<unsigned long long>(start_.index));
  }
  if (snapshot_.data && meta.index <= snapshot_.meta.index) return base::Status::ok();
  if (meta.index <= last_index() && term_at(meta.index) == meta.term) {
    // §5.1: the snapshot carries the configuration as of its index (a follower it is sent to
    // may hold no other); the log says which one that is.
    Membership at = membership_at(meta.index);
    if (at.voters.empty() && !meta.config.voters.empty()) {
      // The log knows no configuration at that index (no entry, none recorded at its start, no
      // bootstrap voters: a server that joined, restarted from its own snapshot): the snapshot's
      // is the one in effect there, and up to the next configuration entry.
      start_.config = meta.config;
      refresh_membership();
      at = meta.config;
    }
    if (!meta.config.voters.empty() && meta.config != at) {
      return base::error(base::Code::kInvalidArgument,
                         "raft: snapshot {%llu, %llu} records another configuration than the log's at its index",
                         static_cast<unsigned long long>(meta.index), static_cast<unsigned long long>(meta.term));
    }
    meta.config = std::move(at);
    // §5.1: the snapshot holds committed entries only, so everything up to it is committed.
    snapshot_ = Snapshot{meta, std::move(data)};
    commit_ = std::max(commit_, meta.index);
    return base::Status::ok();
  }
  // Not held by the log: a saved snapshot whose install a crash interrupted; the host runs
  // recover_snapshot() on the storage before building the core (raft.h).
  return base::error(base::Code::kFailedPrecondition,
                     "raft: the log does not hold snapshot {%llu, %llu} (run recover_snapshot() first)",
                     static_cast<unsigned long long>(meta.index), static_cast<unsigned long long>(meta.term));
}

base::Status RaftCore::compact(Index upto) {
  if (upto <= start_.index) return base::Status::ok();
  if (upto > applied_) {
    return base::error(base::Code::kFailedPrecondition, "raft: compact to %llu past the applied index %llu",
                       static_cast<unsigned long long>(upto), static_cast<unsigned long long>(applied_));
  }
  if (!snapshot_.data || snapshot_.meta.index < upto) {
    return base::error(base::Code::kFailedPrecondition, "raft: compact to %llu past the snapshot (at %llu)",
                       static_cast<unsigned long long>(upto), static_cast<unsigned long long>(snapshot_.meta.index));
  }
  // Applied entries were persisted by an earlier Ready: nothing unwritten is dropped.
  AGENT_ASSERT(unstable_from_ > upto);
  // §5.1: once its snapshot is written, a server may delete the log entries up through the last
  // included index. Keep that entry's term for the consistency check of the next one.
  const Term t = term_at(upto);
  // §5.1: the log start keeps the configuration as of upto, so a compacted configuration entry
  // is not lost (Storage::compact records the same one).
  Membership config = start_.config;
  while (!config_entries_.empty() && config_entries_.front() <= upto) {
    base::Status st = wire::decode_raft_membership(entry(config_entries_.front()).data, &config);
    AGENT_ASSERT_MSG(st.is_ok(), "raft: undecodable configuration entry in the log");
    config_entries_.erase(config_entries_.begin());
  }
  log_.erase(log_.begin(), log_.begin() + static_cast<ptrdiff_t>(upto - start_.index));
  start_ = SnapshotMeta{upto, t, std::move(config)};
  refresh_membership();
  compact_to_ = upto;
  ++counters_.compactions;
  return base::Status::ok();
}

void RaftCore::install_snapshot(const SnapshotMeta& meta, std::shared_ptr<const std::string> data) {
  AGENT_ASSERT(meta.index > commit_ && meta.index >= start_.index && role_ != Role::kLeader);
  AGENT_ASSERT(meta.term <= hs_.term);
  if (meta.index <= last_index() && term_at(meta.index) == meta.term) {
    // Figure 5.3 receiver 6: the log holds the snapshot's last included entry (same index and
    // term): the entries up through it go, the ones following it stay.
    log_.erase(log_.begin(), log_.begin() + static_cast<ptrdiff_t>(meta.index - start_.index));
    unstable_from_ = std::max(unstable_from_, meta.index + 1);
    stable_ = std::max(stable_, meta.index);
  } else {
    // Receiver 7: discard the entire log. Storage drops what follows the snapshot too
    // (truncate_from after apply_snapshot).
    if (meta.index < last_index()) ++counters_.truncations;
    log_.clear();
    truncated_ = true;
    unstable_from_ = meta.index + 1;
    stable_ = meta.index;
    rewrite_low_ = std::min(rewrite_low_, meta.index + 1);
  }
  // §4.1 / §5.1: configuration entries the snapshot covers are gone; the snapshot's own
  // configuration applies until a later entry (one kept by receiver 6) replaces it.
  while (!config_entries_.empty() && config_entries_.front() <= meta.index) {
    config_entries_.erase(config_entries_.begin());
  }
  if (log_.empty()) config_entries_.clear();
  start_ = meta;
  refresh_membership();
  // Receiver 8: the state machine is reset to the snapshot, which holds committed entries only.
  commit_ = meta.index;
  applied_ = meta.index;
  snapshot_ = Snapshot{meta, std::move(data)};
  install_ = snapshot_;
  if (compact_to_ <= meta.index) compact_to_ = 0;
  ++counters_.snapshots_installed;
}

void RaftCore::start_snapshot(ServerId peer, Progress& pr, base::MonoTime now) {
  (void)peer;
  // Compaction needs a snapshot covering it, so one exists whenever the log starts late -- unless
  // the host has not called set_snapshot() yet after a restart (raft.h: it must, before input).
  if (!snapshot_.data) return;
  pr.snap = snapshot_;
  pr.snap_sent = 0;
  pr.snap_acked = 0;
  pr.snap_done_sent = false;
  pr.replicate = false;
  pr.inflight.clear();
  pr.probe_sent = false;
  pr.progress_at = now;
  ++counters_.snapshots_sent;
}

// Figure 5.3: the leader sends chunks in order. At most snapshot_chunks_inflight_max chunks
// beyond what the follower acknowledged.
void RaftCore::send_snapshot_chunks(ServerId peer, Progress& pr, base::MonoTime now) {
  const std::string& image = *pr.snap.data;
  const uint64_t window = uint64_t{config_.snapshot_chunk_bytes} * config_.snapshot_chunks_inflight_max;
  while (!pr.snap_done_sent && pr.snap_sent - pr.snap_acked < window) {
    if (pr.snap_sent == pr.snap_acked) pr.progress_at = now;  // the window goes from idle to busy
    const uint64_t len = std::min<uint64_t>(config_.snapshot_chunk_bytes, image.size() - pr.snap_sent);
    Message m;
    m.type = RaftType::kInstallSnapshot;
    m.to = peer;
    m.snapshot_index = pr.snap.meta.index;
    m.snapshot_term = pr.snap.meta.term;
    m.snapshot_config = pr.snap.meta.config;  // Figure 5.3 lastConfig (§4.1)
    m.snapshot_bytes = image.size();
    m.offset = pr.snap_sent;
    m.data = image.substr(static_cast<size_t>(pr.snap_sent), static_cast<size_t>(len));
    pr.snap_sent += len;
    m.done = pr.snap_sent == image.size();
    pr.snap_done_sent = m.done;
    ++counters_.snapshot_chunks_sent;
    send(std::move(m));
  }
}

void RaftCore::handle_install_snapshot(const Message& m, base::MonoTime now) {
  if (role_ == Role::kLeader) {
    ++counters_.invalid_messages;  // from another leader of our term: cannot be
    return;
  }
  // Like AppendEntries: the sender is this term's leader.
  if (role_ != Role::kFollower) become_follower(hs_.term, m.from, now);
  leader_ = m.from;
  leader_contact_ = now;
  heard_leader_ = true;
  reset_election_timer(now);

  Message r;
  r.type = RaftType::kInstallSnapshotReply;
  r.to = m.from;
  r.snapshot_index = m.snapshot_index;
  auto reply = [&](uint64_t offset) {
    r.offset = offset;
    r.last_log_index = last_index();
    send(std::move(r));
  };
  if (m.snapshot_index <= commit_) {
    // We hold every entry it covers, committed (and so the leader's): done, nothing to install.
    if (incoming_ && incoming_->meta.index <= commit_) incoming_.reset();
    r.done = true;
    return reply(m.snapshot_bytes);
  }
  if (m.snapshot_bytes > config_.snapshot_bytes_max) {
    incoming_.reset();
    ++counters_.snapshots_refused;
    r.refused = true;
    return reply(0);
  }
  const SnapshotMeta meta{m.snapshot_index, m.snapshot_term, m.snapshot_config};
  const bool same = incoming_ && incoming_->from == m.from && incoming_->term == m.term && incoming_->meta == meta &&
                    incoming_->bytes == m.snapshot_bytes;
  if (!same) {
    if (m.offset != 0) {
      r.mismatch = true;  // a chunk of an image we have not started: from its beginning
      return reply(0);
    }
    // Receiver 2: a first chunk (offset 0) starts a new image, discarding any partial one
    // (bounded: one image, at most snapshot_bytes_max).
    incoming_ = IncomingSnapshot{m.from, m.term, meta, m.snapshot_bytes, {}};
  }
  IncomingSnapshot& in = *incoming_;
  if (m.offset > in.data.size()) {
    r.mismatch = true;  // a chunk was lost or reordered: resend from what we hold
    return reply(in.data.size());
  }
  // Receiver 3: write the data at its offset -- the part we do not hold yet (a duplicate adds
  // nothing).
  const uint64_t end = m.offset + m.data.size();
  if (end > in.data.size()) in.data.append(m.data, static_cast<size_t>(in.data.size() - m.offset), std::string::npos);
  if (in.data.size() < in.bytes) return reply(in.data.size());  // receiver 4: wait for more
  // Receiver 5-8: complete. The reply leaves with the Ready that installs it (§3.8).
  auto image = std::make_shared<const std::string>(std::move(in.data));
  incoming_.reset();
  install_snapshot(meta, std::move(image));
  r.done = true;
  reply(m.snapshot_bytes);
}

void RaftCore::handle_snapshot_reply(const Message& m, base::MonoTime now) {
  if (role_ != Role::kLeader) {
    ++counters_.stale_messages;
    return;
  }
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  Progress& pr = it->second;
  pr.recent_active = true;
  pr.answered = true;  // §4.2.1: a learner caught up by a snapshot answers too
  pr.answered_at = now;
  if (m.done) {
    // The follower installed a snapshot at snapshot_index or already held what it covers.
    if (m.snapshot_index > last_index()) {
      ++counters_.invalid_messages;
      return;
    }
    if (m.snapshot_index > pr.match) {
      pr.match = m.snapshot_index;
      pr.progress_at = now;
    }
    if (pr.snap.data && pr.snap.meta.index > pr.match) return;  // an older transfer's answer
    if (pr.snap.data || pr.next <= pr.match) {
      // Transfer over: probe from the snapshot on (etcd raft does the same).
      pr.snap = Snapshot{};
      pr.replicate = false;
      pr.probe_sent = false;
      pr.inflight.clear();
      pr.next = pr.match + 1;
    }
    maybe_commit(now);
    // A leader whose own removal just committed stepped down (§4.2.2): `pr` is gone.
    if (role_ != Role::kLeader) return;
    replicate_to(m.from, pr, /*heartbeat=*/false, now);
    maybe_timeout_now(m.from, pr);
    return;
  }
  if (!pr.snap.data || m.snapshot_index != pr.snap.meta.index) {
    ++counters_.stale_messages;
    return;
  }
  const uint64_t size = pr.snap.data->size();
  if (m.refused) {
    // Over the follower's snapshot_bytes_max: try again after an election timeout (its operator
    // may raise the bound), heartbeats go on meanwhile.
    pr.snap = Snapshot{};
    pr.snap_retry_at = now + config_.election_timeout;
    return;
  }
  const uint64_t offset = std::min(m.offset, size);
  if (m.mismatch) {
    pr.snap_sent = offset;
    pr.snap_acked = offset;
    pr.snap_done_sent = false;
    pr.progress_at = now;
    ++counters_.snapshot_resends;
  } else if (offset > pr.snap_acked) {
    pr.snap_acked = offset;
    pr.snap_sent = std::max(pr.snap_sent, offset);
    pr.progress_at = now;
  }
  send_snapshot_chunks(m.from, pr, now);
}

// --- membership changes (chapter 4) ----------------------------------------------------------------

base::Result<Index> RaftCore::change_membership(MembershipChange change, ServerId id, base::MonoTime now) {
  if (role_ != Role::kLeader) return not_leader();
  if (transfer_target_ != kNoServer) {
    return base::error(base::Code::kUnavailable, "raft: transferring leadership to %llu",
                       static_cast<unsigned long long>(transfer_target_));
  }
  const auto ull = [](uint64_t v) { return static_cast<unsigned long long>(v); };
  // §4.1: "The leader does not begin another configuration change until the previous one is
  // committed" -- one server at a time keeps every two successive configurations' majorities
  // overlapping.
  if (members_index_ > commit_) {
    return base::error(base::Code::kFailedPrecondition, "raft: configuration change at index %llu not committed yet",
                       ull(members_index_));
  }
  // The 2015 correction to single-server changes (Ongaro, raft-dev, "bug in single-server
  // membership changes"): a leader may not append a configuration entry until it has committed
  // an entry of its own term; otherwise a change it makes could overlap an uncommitted change of
  // an earlier leader and two disjoint majorities could elect two leaders.
  if (term_at(commit_) != hs_.term) {
    return base::error(base::Code::kFailedPrecondition,
                       "raft: the leader has not committed an entry of its term yet");
  }
  if (id == kNoServer) return base::error(base::Code::kInvalidArgument, "raft: server id 0");
  Membership next = members_;
  auto erase = [](std::vector<ServerId>& v, ServerId x) { v.erase(std::remove(v.begin(), v.end(), x), v.end()); };
  switch (change) {
    case MembershipChange::kAddLearner:
      // §4.2.1: a new server first joins without a vote, so that it can catch up without
      // making the cluster wait on it for commitment.
      if (is_voter(id) || is_learner(id)) {
        return base::error(base::Code::kAlreadyExists, "raft: %llu is a member already", ull(id));
      }
      if (next.voters.size() + next.learners.size() >= wire::kMembershipServersMax) {
        return base::error(base::Code::kResourceExhausted, "raft: %zu members (kMembershipServersMax)",
                           wire::kMembershipServersMax);
      }
      next.learners.push_back(id);
      break;
    case MembershipChange::kPromote: {
      if (!is_learner(id)) return base::error(base::Code::kNotFound, "raft: %llu is not a learner", ull(id));
      if (next.voters.size() >= kVotersMax) {
        return base::error(base::Code::kResourceExhausted, "raft: %zu voters (kVotersMax)", kVotersMax);
      }
      // §4.2.1: "the leader should abort the change if the new server is unavailable or is so
      // slow that it will never catch up": a learner votes only once it holds everything
      // committed and answered within the last election timeout.
      const Progress& pr = progress_.at(id);
      if (pr.match < commit_ || now - pr.answered_at >= config_.election_timeout || !pr.answered) {
        return base::error(base::Code::kFailedPrecondition,
                           "raft: %llu has not caught up (match %llu, commit %llu)", ull(id), ull(pr.match),
                           ull(commit_));
      }
      erase(next.learners, id);
      next.voters.push_back(id);
      break;
    }
    case MembershipChange::kRemove:
      if (!is_voter(id) && !is_learner(id)) {
        return base::error(base::Code::kNotFound, "raft: %llu is not a member", ull(id));
      }
      if (is_voter(id) && next.voters.size() == 1) {
        return base::error(base::Code::kFailedPrecondition, "raft: cannot remove the last voter");
      }
      erase(next.voters, id);
      erase(next.learners, id);
      break;
  }
  std::sort(next.voters.begin(), next.voters.end());
  std::sort(next.learners.begin(), next.learners.end());
  ++counters_.membership_changes;
  const Index idx = last_index() + 1;
  append_local(Entry{idx, hs_.term, EntryType::kConfig, wire::encode_raft_membership(next)});
  for (auto& [peer, pr] : progress_) replicate_to(peer, pr, /*heartbeat=*/false, now);
  return idx;
}

// --- Ready ----------------------------------------------------------------------------------------

bool RaftCore::has_ready() const {
  if (ready_out_ != 0) return false;
  return hs_dirty_ || truncated_ || unstable_from_ <= last_index() || !msgs_.empty() || applied_ < commit_ ||
         !read_states_.empty() || !reads_aborted_.empty() || install_.has_value() || compact_to_ != 0;
}

Ready RaftCore::take_ready() {
  AGENT_ASSERT(ready_out_ == 0);
  Ready rd;
  rd.id = next_ready_id_++;
  rd.snapshot = std::move(install_);
  install_.reset();
  rd.compact_to = compact_to_;
  compact_to_ = 0;
  if (hs_dirty_) {
    rd.hard_state = hs_;
    hs_dirty_ = false;
  }
  if (truncated_) rd.truncate_from = unstable_from_;
  truncated_ = false;
  for (Index i = unstable_from_; i <= last_index(); ++i) rd.entries.push_back(entry(i));
  unstable_from_ = last_index() + 1;
  ready_last_index_ = rd.entries.empty() ? 0 : rd.entries.back().index;
  ready_last_term_ = rd.entries.empty() ? 0 : rd.entries.back().term;
  // Committed entries are applied after this Ready's sync, by which time every entry up to
  // last_index() (commit_ <= last_index()) is durable here too.
  for (Index i = applied_ + 1; i <= commit_ && rd.committed.size() < config_.apply_batch_max; ++i) {
    rd.committed.push_back(entry(i));
  }
  applied_ += rd.committed.size();
  if (config_.debug_ack_before_persist) {
    rd.messages_before_persist = std::move(msgs_);
  } else if (config_.leader_sends_before_persist && role_ == Role::kLeader) {
    // §10.2.1: the leader's replication requests carry entries and its current term, which was
    // made durable before it campaigned; they acknowledge nothing, so they need not wait for
    // this Ready's write. Anything else a leader says (a reply to a stale leader or candidate)
    // waits as usual.
    for (Message& m : msgs_) {
      const bool replication = m.type == RaftType::kAppendEntries || m.type == RaftType::kInstallSnapshot;
      (replication ? rd.messages_now : rd.messages).push_back(std::move(m));
    }
  } else {
    rd.messages = std::move(msgs_);
  }
  msgs_.clear();
  read_round_unsent_ = false;  // the round's heartbeats are on their way
  rd.read_states = std::move(read_states_);
  read_states_.clear();
  rd.reads_aborted = std::move(reads_aborted_);
  reads_aborted_.clear();
  ready_out_ = rd.id;
  ++counters_.readies;
  return rd;
}

void RaftCore::on_persisted(uint64_t ready_id, base::MonoTime now) {
  AGENT_ASSERT_MSG(ready_id == ready_out_, "raft: on_persisted for a Ready that is not out");
  ready_out_ = 0;
  // §10.2.1: what this Ready wrote is durable; if the log still holds it (no later truncation
  // replaced it) the leader may count it.
  if (ready_last_index_ != 0 && ready_last_index_ >= start_.index && ready_last_index_ <= last_index() &&
      term_at(ready_last_index_) == ready_last_term_) {
    stable_ = std::max(stable_, ready_last_index_);
  }
  ready_last_index_ = 0;
  maybe_commit(now);
}

}  // namespace raft
