// The Raft core driven by hand: an in-test network (a FIFO of messages, each encoded and decoded
// through the wire format) and MemStorage disks, Readies performed synchronously in the order
// raft.h prescribes. Proves the rules one at a time: elections and vote rules, pre-vote and
// stickiness, check-quorum, replication with batching, pipelining and fast back-off, the commit
// rule of Figure 3.7 (with its negative control), and that nothing leaves before it is durable.
#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>

#include "agent/raft/mem_storage.h"
#include "agent/raft/raft.h"

using base::Duration;
using base::MonoTime;
using raft::Entry;
using raft::Message;
using raft::RaftConfig;
using raft::RaftCore;
using raft::Role;
using raft::ServerId;
using wire::RaftType;

namespace {

struct Cluster {
  MonoTime now = MonoTime::from_ns(0);
  std::vector<ServerId> ids;
  std::set<ServerId> joiners;  // started with no configuration (chapter 4)
  std::function<void(ServerId, RaftConfig&)> tweak;
  std::map<ServerId, std::unique_ptr<raft::MemStorage>> disk;
  std::map<ServerId, std::unique_ptr<RaftCore>> nodes;  // absent: down
  std::deque<Message> net;
  std::set<std::pair<ServerId, ServerId>> cut;  // directed links that drop
  std::function<bool(Message&)> mangle;         // rewrites messages in flight; false drops
  std::map<ServerId, std::vector<Entry>> applied;
  std::map<ServerId, std::vector<raft::ReadState>> reads;  // confirmed reads, per server
  std::map<ServerId, std::vector<uint64_t>> aborted;       // aborted reads, per server
  std::vector<Message> sent;  // every message that left, for inspection
  uint64_t seed = 1;

  explicit Cluster(size_t n, std::function<void(ServerId, RaftConfig&)> t = nullptr) : tweak(std::move(t)) {
    for (size_t i = 1; i <= n; ++i) ids.push_back(i);
    for (ServerId id : ids) {
      disk[id] = std::make_unique<raft::MemStorage>();
      start(id);
    }
  }
  RaftConfig config(ServerId id) {
    RaftConfig c;
    c.id = id;
    c.voters = ids;
    if (joiners.count(id)) c.voters.clear();
    c.election_timeout = Duration::millis(100);
    c.heartbeat_interval = Duration::millis(10);
    if (tweak) tweak(id, c);
    return c;
  }
  void start(ServerId id) {
    nodes[id] = std::make_unique<RaftCore>(config(id), *disk[id], seed * 100 + id + applied[id].size(), now);
    applied[id].clear();
  }
  // A new server that joins: no configuration until the leader's log brings one.
  void join(ServerId id) {
    joiners.insert(id);
    disk[id] = std::make_unique<raft::MemStorage>();
    start(id);
  }
  void crash(ServerId id) {
    nodes.erase(id);
    disk[id]->crash();
  }
  RaftCore& n(ServerId id) { return *nodes.at(id); }
  void isolate(ServerId id) {
    for (ServerId o : ids) {
      if (o != id) cut.insert({id, o}), cut.insert({o, id});
    }
  }
  void heal() { cut.clear(); }

  void ready(ServerId id) {
    RaftCore& c = n(id);
    while (c.has_ready()) {
      raft::Ready rd = c.take_ready();
      for (auto& m : rd.messages_before_persist) post(m);
      for (auto& m : rd.messages_now) post(m);
      ASSERT_TRUE(raft::write_ready(*disk[id], rd).is_ok());
      ASSERT_TRUE(disk[id]->sync().is_ok());
      for (auto& m : rd.messages) post(m);
      for (auto& e : rd.committed) applied[id].push_back(e);
      for (auto& r : rd.read_states) {
        // The host serves a read once it applied its index: here everything committed so far.
        EXPECT_LE(r.index, applied[id].empty() ? 0 : applied[id].back().index);
        reads[id].push_back(r);
      }
      for (uint64_t ctx : rd.reads_aborted) aborted[id].push_back(ctx);
      c.on_persisted(rd.id, now);
    }
  }
  void post(Message m) {
    sent.push_back(m);
    if (cut.count({m.from, m.to})) return;
    if (mangle && !mangle(m)) return;
    // Through the wire format, as a real transport would.
    std::string bytes = wire::encode_raft_message(m);
    Message d;
    EXPECT_TRUE(wire::decode_raft_message(base::as_bytes(bytes), &d).is_ok());
    net.push_back(std::move(d));
  }
  // Delivers until nothing is in flight.
  void deliver() {
    for (int guard = 0; guard < 100000; ++guard) {
      for (auto& [id, c] : nodes) ready(id);
      if (net.empty()) return;
      Message m = std::move(net.front());
      net.pop_front();
      auto it = nodes.find(m.to);
      if (it != nodes.end()) it->second->on_message(m, now);
    }
    FAIL() << "network never went quiet";
  }
  // Moves time to `id`'s deadline and ticks it alone.
  void fire(ServerId id) {
    now = std::max(now, n(id).next_deadline());
    n(id).on_tick(now);
    deliver();
  }
  // Advances time by `d` in 1 ms steps, ticking every node at its deadline.
  void advance(Duration d) {
    MonoTime end = now + d;
    while (now < end) {
      now = now + Duration::millis(1);
      for (auto& [id, c] : nodes) {
        if (c->next_deadline() <= now) c->on_tick(now);
      }
      deliver();
    }
  }
  ServerId leader() {
    ServerId l = 0;
    raft::Term t = 0;
    for (auto& [id, c] : nodes) {
      if (c->role() == Role::kLeader && c->term() >= t) l = id, t = c->term();
    }
    return l;
  }
  ServerId elect() {
    for (int i = 0; i < 100 && leader() == 0; ++i) advance(Duration::millis(50));
    return leader();
  }
  std::vector<std::string> commands(ServerId id) {
    std::vector<std::string> out;
    for (auto& e : applied[id]) {
      if (e.type == wire::EntryType::kCommand) out.push_back(e.data);
    }
    return out;
  }
};

// Seeds a server's disk with a term, a vote and a log of the given terms.
void preload(raft::MemStorage& d, raft::Term term, ServerId vote, std::vector<raft::Term> terms) {
  ASSERT_TRUE(d.save_hard_state({term, vote}).is_ok());
  std::vector<Entry> es;
  for (size_t i = 0; i < terms.size(); ++i) {
    es.push_back({i + 1, terms[i], wire::EntryType::kCommand, "t" + std::to_string(terms[i]) + "i" + std::to_string(i + 1)});
  }
  ASSERT_TRUE(d.append(es).is_ok());
  ASSERT_TRUE(d.sync().is_ok());
}

}  // namespace

TEST(RaftElection, ThreeServersElectOneLeaderWhoReplicatesAndEveryoneApplies) {
  Cluster c(3);
  ServerId l = c.elect();
  ASSERT_NE(l, 0u);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(c.n(l).propose("cmd" + std::to_string(i), c.now).is_ok());
  c.deliver();
  c.advance(Duration::millis(30));  // a heartbeat carries the commit index to followers
  for (ServerId id : c.ids) {
    EXPECT_EQ(c.commands(id).size(), 20u) << "server " << id;
    EXPECT_EQ(c.commands(id), c.commands(l));
    EXPECT_EQ(c.n(id).leader(), l);
  }
  size_t leaders = 0;
  for (ServerId id : c.ids) leaders += c.n(id).role() == Role::kLeader;
  EXPECT_EQ(leaders, 1u);
  // Followers refuse proposals and name the leader.
  ServerId f = l == 1 ? 2 : 1;
  auto r = c.n(f).propose("x", c.now);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), base::Code::kUnavailable);
}

TEST(RaftElection, SingleServerLeadsAndCommitsAlone) {
  Cluster c(1);
  ASSERT_EQ(c.elect(), 1u);
  ASSERT_TRUE(c.n(1).propose("solo", c.now).is_ok());
  c.deliver();
  EXPECT_EQ(c.commands(1), std::vector<std::string>{"solo"});
}

TEST(RaftVote, OneVotePerTermPersistedBeforeTheReply) {
  Cluster c(3, [](ServerId, RaftConfig& k) { k.pre_vote = false; });
  Message v;
  v.type = RaftType::kRequestVote;
  v.term = 5;
  v.from = 2;
  v.to = 1;
  c.n(1).on_message(v, c.now);
  ASSERT_TRUE(c.n(1).has_ready());
  raft::Ready rd = c.n(1).take_ready();
  // The grant travels in the same Ready as the vote it promises, after it in the host's order.
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->term, 5u);
  EXPECT_EQ(rd.hard_state->voted_for, 2u);
  ASSERT_EQ(rd.messages.size(), 1u);
  EXPECT_TRUE(rd.messages[0].granted);
  EXPECT_TRUE(rd.messages_before_persist.empty());
  // Nothing more until the host says it is durable.
  Message v3 = v;
  v3.from = 3;
  c.n(1).on_message(v3, c.now);
  EXPECT_FALSE(c.n(1).has_ready());
  ASSERT_TRUE(raft::write_ready(*c.disk[1], rd).is_ok());
  ASSERT_TRUE(c.disk[1]->sync().is_ok());
  c.n(1).on_persisted(rd.id, c.now);
  rd = c.n(1).take_ready();
  ASSERT_EQ(rd.messages.size(), 1u);
  EXPECT_FALSE(rd.messages[0].granted) << "a second candidate in the same term gets no vote";
  c.n(1).on_persisted(rd.id, c.now);
  // After a crash the vote is still there: the same candidate again gets it, the other not.
  c.crash(1);
  c.start(1);
  EXPECT_EQ(c.n(1).voted_for(), 2u);
  EXPECT_EQ(c.n(1).term(), 5u);
}

TEST(RaftVote, CandidateWithStaleLogIsRefused) {
  Cluster c(3, [](ServerId, RaftConfig& k) { k.pre_vote = false; });
  c.crash(1);
  preload(*c.disk[1], 3, 0, {1, 3});
  c.start(1);
  Message v;
  v.type = RaftType::kRequestVote;
  v.from = 2;
  v.to = 1;
  v.term = 4;
  v.last_log_index = 5;  // longer, but its last term is older: less up to date (§3.6.1)
  v.last_log_term = 2;
  c.n(1).on_message(v, c.now);
  c.ready(1);
  ASSERT_FALSE(c.sent.empty());
  EXPECT_FALSE(c.sent.back().granted);
  EXPECT_EQ(c.n(1).term(), 4u) << "the higher term is adopted even when the vote is refused";
  v.term = 5;
  v.last_log_index = 2;
  v.last_log_term = 3;  // same last term, same length: up to date
  c.n(1).on_message(v, c.now);
  c.ready(1);
  EXPECT_TRUE(c.sent.back().granted);
}

TEST(RaftPreVote, IsolatedFollowerKeepsItsTermAndDoesNotDisruptOnReturn) {
  Cluster c(3);
  ServerId l = c.elect();
  ASSERT_NE(l, 0u);
  const raft::Term t = c.n(l).term();
  ServerId f = l == 3 ? 1 : 3;
  c.isolate(f);
  c.advance(Duration::millis(2000));  // ten election timeouts alone
  EXPECT_EQ(c.n(f).term(), t) << "pre-votes never raise the term";
  EXPECT_GT(c.n(f).counters().pre_votes_started, 3u);
  EXPECT_EQ(c.n(f).counters().elections_started, 0u);
  c.heal();
  c.advance(Duration::millis(500));
  EXPECT_EQ(c.leader(), l) << "the leader was not disturbed";
  EXPECT_EQ(c.n(l).term(), t);
  EXPECT_EQ(c.n(f).leader(), l);
}

TEST(RaftPreVote, WithoutPreVoteTheReturningFollowerDeposesTheLeader) {
  // The contrast that shows what pre-vote buys: the same run with it off raises the term and
  // costs the leader its office.
  Cluster c(3, [](ServerId, RaftConfig& k) { k.pre_vote = false; });
  ServerId l = c.elect();
  ASSERT_NE(l, 0u);
  const raft::Term t = c.n(l).term();
  ServerId f = l == 3 ? 1 : 3;
  c.isolate(f);
  c.advance(Duration::millis(2000));
  EXPECT_GT(c.n(f).term(), t + 3);
  c.heal();
  c.advance(Duration::millis(1000));
  ServerId l2 = c.elect();
  ASSERT_NE(l2, 0u);
  EXPECT_GT(c.n(l2).term(), t + 3) << "the inflated term forced a new election";
}

TEST(RaftPreVote, StickyFollowerRefusesVotesWhileItsLeaderIsLive) {
  Cluster c(3);
  ServerId l = c.elect();
  ASSERT_NE(l, 0u);
  ServerId f = l == 1 ? 2 : 1;
  ServerId other = 6 - l - f;
  const raft::Term t = c.n(f).term();
  Message v;
  v.type = RaftType::kRequestVote;
  v.from = other;
  v.to = f;
  v.term = t + 1;
  v.last_log_index = 100;
  v.last_log_term = t;
  for (bool pre : {true, false}) {
    v.pre_vote = pre;
    c.n(f).on_message(v, c.now);
    c.ready(f);
    EXPECT_FALSE(c.sent.back().granted) << (pre ? "pre-vote" : "vote");
    EXPECT_EQ(c.n(f).term(), t) << "the term is not adopted (§4.2.3)";
  }
  EXPECT_EQ(c.n(f).counters().votes_refused_sticky, 2u);
  // Once the leader is silent for an election timeout the same request is granted.
  c.isolate(l);
  c.now = c.now + Duration::millis(150);
  v.pre_vote = true;
  c.n(f).on_message(v, c.now);
  c.ready(f);
  EXPECT_TRUE(c.sent.back().granted);
}

TEST(RaftCheckQuorum, LeaderCutOffFromTheMajorityStepsDown) {
  Cluster c(5);
  ServerId l = c.elect();
  ASSERT_NE(l, 0u);
  c.isolate(l);
  c.advance(Duration::millis(250));  // at most two election timeouts
  EXPECT_NE(c.n(l).role(), Role::kLeader);
  EXPECT_EQ(c.n(l).counters().check_quorum_stepdowns, 1u);
  ServerId l2 = c.elect();
  EXPECT_NE(l2, 0u);
  EXPECT_NE(l2, l);
}

TEST(RaftReplication, BatchesRespectTheLimitsAndPipelineIsBounded) {
  Cluster c(3, [](ServerId, RaftConfig& k) {
    k.append_entries_max = 4;
    k.inflight_max = 2;
  });
  ServerId l = c.elect();
  ASSERT_NE(l, 0u);
  c.sent.clear();
  // Queue proposals without delivering in between: the leader may have at most inflight_max
  // AppendEntries out per follower before acknowledgements come back.
  c.ready(l);
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(c.n(l).propose("p" + std::to_string(i), c.now).is_ok());
  raft::Ready rd = c.n(l).take_ready();
  std::map<ServerId, size_t> appends;
  for (auto& m : rd.messages) {
    if (m.type != RaftType::kAppendEntries) continue;
    EXPECT_LE(m.entries.size(), 4u);
    ++appends[m.to];
  }
  for (auto& [to, k] : appends) EXPECT_LE(k, 2u) << "to " << to;
  ASSERT_TRUE(raft::write_ready(*c.disk[l], rd).is_ok());
  ASSERT_TRUE(c.disk[l]->sync().is_ok());
  for (auto& m : rd.messages) c.post(m);
  c.n(l).on_persisted(rd.id, c.now);
  c.deliver();
  c.advance(Duration::millis(30));
  for (ServerId id : c.ids) EXPECT_EQ(c.commands(id).size(), 40u);
}

TEST(RaftReplication, ConflictingSuffixIsReplacedWithFastBackoff) {
  // Follower 3 holds 30 entries of terms 2 and 3 that the leader's log (terms 1 and 4) never
  // had. The §5.3 hint skips whole terms: a handful of rejections, not one per entry.
  Cluster c(3, [](ServerId, RaftConfig& k) { k.pre_vote = false; });
  for (ServerId id : c.ids) c.crash(id);
  std::vector<raft::Term> good = {1, 1, 1, 4, 4};
  std::vector<raft::Term> bad = {1, 1, 1};
  for (int i = 0; i < 15; ++i) bad.push_back(2);
  for (int i = 0; i < 15; ++i) bad.push_back(3);
  preload(*c.disk[1], 4, 1, good);
  preload(*c.disk[2], 4, 1, good);
  preload(*c.disk[3], 3, 0, bad);
  for (ServerId id : c.ids) c.start(id);
  c.fire(1);  // server 1 campaigns: 2 votes (3's log ends in term 3 < 4, so 3 votes too)
  ASSERT_EQ(c.leader(), 1u);
  c.advance(Duration::millis(30));
  EXPECT_LE(c.n(3).counters().append_rejections, 3u);
  EXPECT_EQ(c.n(3).last_index(), c.n(1).last_index());
  for (raft::Index i = 1; i <= c.n(1).last_index(); ++i) EXPECT_EQ(c.n(3).term_at(i), c.n(1).term_at(i));
  EXPECT_GE(c.n(3).counters().truncations, 1u);
}

TEST(RaftReplication, StaleAndDuplicateAppendsDoNotCutTheLog) {
  Cluster c(3);
  ServerId l = c.elect();
  ASSERT_NE(l, 0u);
  ServerId f = l == 1 ? 2 : 1;
  // An old AppendEntries (prev 0, the first entry only) replayed after more entries arrived must
  // not truncate what followed it (Figure 3.1 receiver rule 3 only truncates on conflict).
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.n(l).propose("x" + std::to_string(i), c.now).is_ok());
  c.deliver();
  const raft::Index last = c.n(f).last_index();
  Message old;
  old.type = RaftType::kAppendEntries;
  old.from = l;
  old.to = f;
  old.term = c.n(l).term();
  old.prev_log_index = 0;
  old.entries.push_back(c.n(l).entry(1));
  c.n(f).on_message(old, c.now);
  c.ready(f);
  EXPECT_EQ(c.n(f).last_index(), last);
  EXPECT_EQ(c.n(f).counters().truncations, 0u);
}

// Figure 3.7: a leader must not commit an entry of an earlier term by counting replicas. The
// cluster starts in the figure's state after (b): S1 led term 2 and wrote index 2 (term 2) on
// S1 and S2; S5 led term 3 and wrote index 2 (term 3) on itself only, with S3 and S4 voting for
// it. In (c) S5 is down, S1 leads term 4 and brings index 2 to S3 -- a majority -- with its own
// term-4 entry at index 3 on S1 and S2 only. Then S1 crashes and S5 returns; S5 can win term 5
// (S3 and S4 hold nothing newer than term 2) and overwrite index 2.
namespace {

struct Fig37Result {
  raft::Index s1_commit_after_c = 0;
  bool conflicting_apply = false;
  // S1 committed index 2 (term 2), yet S5 leads term 5 with a different entry there.
  bool leader_completeness_broken = false;
  uint64_t rewrites_refused = 0;  // followers refusing to overwrite what they know committed
};

Fig37Result figure_3_7(bool buggy) {
  Fig37Result res;
  Cluster c(5, [buggy](ServerId, RaftConfig& k) {  // only S1 and S5 are fired (fire()): no one else campaigns
    k.pre_vote = false;
    k.append_entries_max = 1;  // one entry per message so index 2 reaches S3 without index 3
    k.debug_commit_previous_term = buggy;
  });
  for (ServerId id : c.ids) c.crash(id);
  preload(*c.disk[1], 2, 1, {1, 2});
  preload(*c.disk[2], 2, 1, {1, 2});
  preload(*c.disk[3], 3, 5, {1});
  preload(*c.disk[4], 3, 5, {1});
  preload(*c.disk[5], 3, 5, {1, 3});
  for (ServerId id : c.ids) c.start(id);
  c.crash(5);
  // (c) S1 campaigns; its first try at term 3 is refused (S3, S4 voted in term 3), the next wins
  // term 4. S2 gets everything; S3 only index 2 (S1 sends one entry per message and we drop the
  // entries from index 3 on); S4 no entries at all.
  c.mangle = [](Message& m) {
    if (m.from != 1 || m.type != RaftType::kAppendEntries) return true;
    if (m.to == 4) return m.entries.empty();
    if (m.to == 3) {
      while (!m.entries.empty() && m.entries.back().index >= 3) m.entries.pop_back();
    }
    return true;
  };
  for (int i = 0; i < 3 && c.leader() != 1; ++i) c.fire(1);
  EXPECT_EQ(c.leader(), 1u);
  EXPECT_EQ(c.n(1).term(), 4u);
  c.advance(Duration::millis(20));
  EXPECT_EQ(c.n(3).last_index(), 2u);
  EXPECT_EQ(c.n(3).term_at(2), 2u);
  EXPECT_EQ(c.n(2).last_index(), 3u);
  res.s1_commit_after_c = c.n(1).commit_index();
  // (d) S1 crashes; S5 returns and campaigns.
  c.crash(1);
  c.start(5);
  c.heal();
  c.mangle = nullptr;
  for (int i = 0; i < 3 && c.leader() != 5; ++i) c.fire(5);
  EXPECT_EQ(c.leader(), 5u);
  res.leader_completeness_broken = res.s1_commit_after_c >= 2 && c.n(5).term_at(2) != 2;
  c.advance(Duration::millis(30));
  for (ServerId id : {2, 3, 4}) res.rewrites_refused += c.n(id).counters().invalid_messages;
  // State-Machine Safety: what S1 applied before its crash against what the others apply now.
  std::map<raft::Index, std::string> first;
  for (auto& [id, es] : c.applied) {
    for (auto& e : es) {
      auto [it, fresh] = first.emplace(e.index, e.data);
      if (!fresh && it->second != e.data) res.conflicting_apply = true;
    }
  }
  return res;
}

}  // namespace

TEST(RaftCommit, Figure37LeaderDoesNotCommitAnEarlierTermByCounting) {
  Fig37Result r = figure_3_7(/*buggy=*/false);
  EXPECT_LT(r.s1_commit_after_c, 2u) << "index 2 (term 2) on a majority is not committed by counting";
  EXPECT_FALSE(r.conflicting_apply);
  EXPECT_FALSE(r.leader_completeness_broken);
  EXPECT_EQ(r.rewrites_refused, 0u);
}

TEST(RaftCommit, NegativeControlCommittingEarlierTermsByCountingBreaksStateMachineSafety) {
  Fig37Result r = figure_3_7(/*buggy=*/true);
  EXPECT_GE(r.s1_commit_after_c, 2u) << "the buggy leader commits index 2 by counting";
  // S5 then wins term 5 without that entry (Leader Completeness broken); the followers that
  // learned index 2 was committed refuse S5's rewrite, the others apply S5's entry.
  EXPECT_TRUE(r.leader_completeness_broken);
  EXPECT_TRUE(r.conflicting_apply || r.rewrites_refused > 0);
}

TEST(RaftDurability, NegativeControlAckBeforePersistSendsFirst) {
  Cluster c(3, [](ServerId, RaftConfig& k) { k.debug_ack_before_persist = true; });
  Message v;
  v.type = RaftType::kRequestVote;
  v.term = 2;
  v.from = 2;
  v.to = 1;
  c.n(1).on_message(v, c.now);
  raft::Ready rd = c.n(1).take_ready();
  EXPECT_TRUE(rd.messages.empty());
  ASSERT_EQ(rd.messages_before_persist.size(), 1u);
}

// §10.2.1: with leader_sends_before_persist the leader's AppendEntries leave before its own
// write (Ready::messages_now), and the leader counts itself only once on_persisted() confirmed
// the write: one follower's acknowledgement is not a majority of three while the leader's own
// write is still out; both followers' are, even before it ends.
TEST(RaftDurability, LeaderSendsAppendsBeforeItsWriteButCountsItselfOnlyAfter) {
  for (bool both_followers : {false, true}) {
    SCOPED_TRACE(both_followers ? "both followers answer" : "one follower answers");
    Cluster c(3, [](ServerId, RaftConfig& k) { k.leader_sends_before_persist = true; });
    ServerId l = c.elect();
    ASSERT_NE(l, 0u);
    c.deliver();
    const ServerId f1 = l == 1 ? 2 : 1;
    const ServerId f2 = 6 - l - f1;
    if (!both_followers) c.cut.insert({l, f2});
    auto idx = c.n(l).propose("x", c.now);
    ASSERT_TRUE(idx.is_ok());
    raft::Ready rd = c.n(l).take_ready();
    ASSERT_EQ(rd.entries.size(), 1u);
    size_t appends_now = 0;
    for (const Message& m : rd.messages_now) {
      EXPECT_EQ(m.type, RaftType::kAppendEntries);
      appends_now += !m.entries.empty() && m.entries.back().index == *idx;
    }
    EXPECT_EQ(appends_now, 2u) << "the entry goes to both followers before the leader's write";
    for (const Message& m : rd.messages) EXPECT_NE(m.type, RaftType::kAppendEntries);
    for (auto& m : rd.messages_now) c.post(m);
    c.deliver();  // the followers write, sync and answer; the leader's Ready is still out
    if (both_followers) {
      EXPECT_EQ(c.n(l).commit_index(), *idx) << "two followers of three are a majority";
    } else {
      EXPECT_LT(c.n(l).commit_index(), *idx) << "counted itself before its own write ended";
    }
    ASSERT_TRUE(raft::write_ready(*c.disk[l], rd).is_ok());
    ASSERT_TRUE(c.disk[l]->sync().is_ok());
    for (auto& m : rd.messages) c.post(m);
    c.n(l).on_persisted(rd.id, c.now);
    EXPECT_EQ(c.n(l).commit_index(), *idx) << "the leader's own write and one follower's";
    c.deliver();
    ASSERT_FALSE(c.commands(l).empty());
    EXPECT_EQ(c.commands(l).back(), "x");
  }
}

TEST(RaftCore, MessagesNotForUsAndMalformedEntriesAreDropped) {
  Cluster c(3);
  Message m;
  m.type = RaftType::kAppendEntries;
  m.from = 2;
  m.to = 3;  // not for us
  m.term = 1;
  c.n(1).on_message(m, c.now);
  m.to = 1;
  m.entries.push_back({1, 5, wire::EntryType::kCommand, "x"});  // entry term above the message's
  c.n(1).on_message(m, c.now);
  m.entries = {{1, 1, wire::EntryType::kConfig, "not a configuration"}};
  c.n(1).on_message(m, c.now);
  EXPECT_EQ(c.n(1).counters().invalid_messages, 3u);
  EXPECT_EQ(c.n(1).last_index(), 0u);
  EXPECT_EQ(c.n(1).term(), 0u);
  // §4.1: requests are processed without consulting the configuration -- a server must follow
  // a leader added by an entry it has not received yet -- so a non-member's AppendEntries counts.
  m.from = 9;
  m.entries.clear();
  c.n(1).on_message(m, c.now);
  EXPECT_EQ(c.n(1).counters().invalid_messages, 3u);
  EXPECT_EQ(c.n(1).leader(), 9u);
}

// --- §6.4 ReadIndex -------------------------------------------------------------------------------

// A read on the leader is released only after a heartbeat round that a majority answered, with
// the commit index it had when the read arrived; the heartbeats carry the round and the replies
// echo it.
TEST(RaftRead, LeaderConfirmsByAHeartbeatRoundThenReleasesItsCommitIndex) {
  Cluster c(3);
  ServerId l = c.elect();
  ASSERT_NE(l, 0u);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(c.n(l).propose("w" + std::to_string(i), c.now).is_ok());
  c.deliver();
  const raft::Index commit = c.n(l).commit_index();
  ASSERT_EQ(commit, c.n(l).last_index());
  c.sent.clear();
  ASSERT_TRUE(c.n(l).read_index(42, c.now).is_ok());
  EXPECT_EQ(c.n(l).reads_pending(), 1u);
  // Nothing is released before the round's answers are in.
  ASSERT_TRUE(c.n(l).has_ready());
  raft::Ready rd = c.n(l).take_ready();
  EXPECT_TRUE(rd.read_states.empty());
  ASSERT_EQ(rd.messages.size(), 2u) << "one heartbeat per follower";
  for (const Message& m : rd.messages) {
    EXPECT_EQ(m.type, RaftType::kAppendEntries);
    EXPECT_EQ(m.read_seq, 1u);
  }
  for (auto& m : rd.messages) c.post(m);
  c.n(l).on_persisted(rd.id, c.now);
  c.deliver();
  ASSERT_EQ(c.reads[l].size(), 1u);
  EXPECT_EQ(c.reads[l][0], (raft::ReadState{42, commit}));
  EXPECT_EQ(c.n(l).reads_pending(), 0u);
  size_t echoed = 0;
  for (const Message& m : c.sent) echoed += m.type == RaftType::kAppendEntriesReply && m.read_seq == 1;
  EXPECT_EQ(echoed, 2u);
  EXPECT_EQ(c.n(l).counters().read_rounds, 1u);
  EXPECT_EQ(c.n(l).counters().reads_confirmed, 1u);
}

// Reads that arrive before a round's heartbeats left share the round.
TEST(RaftRead, ReadsArrivingTogetherShareOneRound) {
  Cluster c(3);
  ServerId l = c.elect();
  ASSERT_NE(l, 0u);
  for (uint64_t ctx = 1; ctx <= 5; ++ctx) ASSERT_TRUE(c.n(l).read_index(ctx, c.now).is_ok());
  c.deliver();
  ASSERT_EQ(c.reads[l].size(), 5u);
  for (uint64_t ctx = 1; ctx <= 5; ++ctx) EXPECT_EQ(c.reads[l][ctx - 1].ctx, ctx) << "in the order asked";
  EXPECT_EQ(c.n(l).counters().read_rounds, 1u);
  ASSERT_TRUE(c.n(l).read_index(6, c.now).is_ok());
  c.deliver();
  EXPECT_EQ(c.n(l).counters().read_rounds, 2u) << "a read after the round left needs a new one";
  EXPECT_EQ(c.reads[l].size(), 6u);
}

// §6.4 step 1: a new leader whose no-op has not committed yet holds reads back (its commit index
// may be below what earlier leaders committed) and starts no round until the no-op commits.
TEST(RaftRead, NewLeaderWaitsForTheFirstCommitOfItsTerm) {
  Cluster c(3);
  // Followers' acknowledgements are lost: s1 wins the election but commits nothing.
  c.mangle = [](Message& m) { return m.type != RaftType::kAppendEntriesReply; };
  c.fire(1);
  ASSERT_EQ(c.n(1).role(), Role::kLeader);
  ASSERT_LT(c.n(1).commit_index(), c.n(1).last_index());
  ASSERT_TRUE(c.n(1).read_index(9, c.now).is_ok());
  c.advance(Duration::millis(40));
  EXPECT_TRUE(c.reads[1].empty());
  EXPECT_EQ(c.n(1).counters().read_rounds, 0u) << "no round before the term's first commit";
  EXPECT_EQ(c.n(1).reads_pending(), 1u);
  c.mangle = nullptr;
  c.advance(Duration::millis(40));
  ASSERT_EQ(c.reads[1].size(), 1u);
  EXPECT_EQ(c.reads[1][0].ctx, 9u);
  EXPECT_GE(c.reads[1][0].index, c.n(1).last_index());
  EXPECT_EQ(c.n(1).term_at(c.reads[1][0].index), c.n(1).term());
  EXPECT_EQ(c.n(1).counters().read_rounds, 1u);
}

// A leader cut off from the majority never confirms a read; when check-quorum deposes it the
// read is reported aborted, and the new leader's reads go through.
TEST(RaftRead, CutOffLeaderNeverConfirmsAndAbortsWhenItStepsDown) {
  Cluster c(3);
  ServerId l = c.elect();
  ASSERT_NE(l, 0u);
  c.isolate(l);
  ASSERT_TRUE(c.n(l).read_index(1, c.now).is_ok());
  c.advance(Duration::millis(80));
  EXPECT_TRUE(c.reads[l].empty());
  c.advance(Duration::millis(300));
  EXPECT_NE(c.n(l).role(), Role::kLeader);
  EXPECT_TRUE(c.reads[l].empty());
  EXPECT_EQ(c.aborted[l], std::vector<uint64_t>{1});
  EXPECT_EQ(c.n(l).reads_pending(), 0u);
  auto r = c.n(l).read_index(2, c.now);
  EXPECT_EQ(r.code(), base::Code::kUnavailable);
  c.heal();
  ServerId l2 = c.elect();
  ASSERT_NE(l2, 0u);
  ASSERT_TRUE(c.n(l2).read_index(3, c.now).is_ok());
  c.deliver();
  ASSERT_EQ(c.reads[l2].size(), 1u);
}

// A single-voter cluster is its own majority: the read is released in the next Ready.
TEST(RaftRead, SingleVoterConfirmsAtOnce) {
  Cluster c(1);
  ASSERT_EQ(c.elect(), 1u);
  ASSERT_TRUE(c.n(1).propose("a", c.now).is_ok());
  c.deliver();
  ASSERT_TRUE(c.n(1).read_index(77, c.now).is_ok());
  ASSERT_TRUE(c.n(1).has_ready());
  raft::Ready rd = c.n(1).take_ready();
  ASSERT_EQ(rd.read_states.size(), 1u);
  EXPECT_EQ(rd.read_states[0], (raft::ReadState{77, 2}));
  EXPECT_TRUE(rd.messages.empty());
  c.n(1).on_persisted(rd.id, c.now);
}

// Followers refuse and name the leader (the host forwards); pending reads are bounded.
TEST(RaftRead, FollowersRefuseAndPendingReadsAreBounded) {
  Cluster c(3, [](ServerId, RaftConfig& k) { k.read_requests_max = 2; });
  ServerId l = c.elect();
  ASSERT_NE(l, 0u);
  ServerId f = l == 1 ? 2 : 1;
  base::Status st = c.n(f).read_index(1, c.now);
  EXPECT_EQ(st.code(), base::Code::kUnavailable);
  EXPECT_NE(st.message().find("leader is " + std::to_string(l)), std::string::npos) << st.message();
  c.isolate(l);  // nothing is confirmed
  ASSERT_TRUE(c.n(l).read_index(1, c.now).is_ok());
  ASSERT_TRUE(c.n(l).read_index(2, c.now).is_ok());
  EXPECT_EQ(c.n(l).read_index(3, c.now).code(), base::Code::kResourceExhausted);
}

// Answers from an older round do not confirm a newer read: the follower must have answered a
// heartbeat that left after the read arrived.
TEST(RaftRead, AnswersToEarlierRoundsDoNotConfirmLaterReads) {
  Cluster c(3);
  ServerId l = c.elect();
  ASSERT_NE(l, 0u);
  ASSERT_TRUE(c.n(l).read_index(1, c.now).is_ok());
  c.deliver();
  ASSERT_EQ(c.reads[l].size(), 1u);
  // Round 2 starts, but its heartbeats are lost; replies that echo round 1 arrive instead.
  c.isolate(l);
  ASSERT_TRUE(c.n(l).read_index(2, c.now).is_ok());
  c.deliver();
  c.heal();
  for (ServerId f : c.ids) {
    if (f == l) continue;
    Message r;
    r.type = RaftType::kAppendEntriesReply;
    r.from = f;
    r.to = l;
    r.term = c.n(l).term();
    r.success = true;
    r.index = c.n(l).commit_index();
    r.read_seq = 1;
    c.n(l).on_message(r, c.now);
    r.read_seq = 99;  // a round never issued: ignored
    c.n(l).on_message(r, c.now);
  }
  c.ready(l);
  EXPECT_EQ(c.reads[l].size(), 1u);
  c.advance(Duration::millis(20));  // the next heartbeat carries round 2
  ASSERT_EQ(c.reads[l].size(), 2u);
  EXPECT_EQ(c.reads[l][1].ctx, 2u);
}

// The negative-control knob answers at once from local state, even when cut off.
TEST(RaftRead, NegativeControlDebugReadLocalAnswersWithoutARound) {
  Cluster c(3, [](ServerId, RaftConfig& k) { k.debug_read_local = true; });
  ServerId l = c.elect();
  ASSERT_NE(l, 0u);
  c.isolate(l);
  ASSERT_TRUE(c.n(l).read_index(5, c.now).is_ok());
  c.ready(l);
  ASSERT_EQ(c.reads[l].size(), 1u);
  EXPECT_EQ(c.n(l).counters().read_rounds, 0u);
}

// --- §3.10 leadership transfer --------------------------------------------------------------------

// The leader stops taking proposals, the target campaigns at once (no pre-vote) with the
// transfer flag, and followers inside their lease vote for it anyway (§4.2.3).
TEST(RaftTransfer, TargetTakesOverAtOnceDespiteStickiness) {
  Cluster c(3);
  ServerId l = c.elect();
  ASSERT_NE(l, 0u);
  ASSERT_TRUE(c.n(l).propose("a", c.now).is_ok());
  c.deliver();
  const raft::Term t = c.n(l).term();
  const ServerId target = l == 3 ? 1 : l + 1;
  c.sent.clear();
  ASSERT_TRUE(c.n(l).transfer_leadership(target, c.now).is_ok());
  EXPECT_EQ(c.n(l).transferring(), target);
  auto p = c.n(l).propose("b", c.now);
  ASSERT_FALSE(p.is_ok());
  EXPECT_EQ(p.status().code(), base::Code::kUnavailable);
  EXPECT_NE(p.status().message().find("transferring"), std::string::npos);
  c.deliver();  // no time passes: no election timer could have fired
  EXPECT_EQ(c.leader(), target);
  EXPECT_EQ(c.n(target).term(), t + 1);
  EXPECT_EQ(c.n(target).counters().transfer_elections, 1u);
  EXPECT_EQ(c.n(target).counters().pre_votes_started, 0u);
  EXPECT_EQ(c.n(l).role(), Role::kFollower);
  EXPECT_EQ(c.n(l).transferring(), raft::kNoServer);
  bool flagged = false;
  for (const Message& m : c.sent) {
    if (m.type == RaftType::kRequestVote) flagged = m.transfer && !m.pre_vote;
  }
  EXPECT_TRUE(flagged);
  ASSERT_TRUE(c.n(target).propose("c", c.now).is_ok());
  c.deliver();
  c.advance(Duration::millis(30));
  for (ServerId id : c.ids) EXPECT_EQ(c.commands(id), (std::vector<std::string>{"a", "c"})) << id;
}

// The same RequestVote without the flag is refused by a follower in its lease; with it, granted.
TEST(RaftTransfer, OnlyTheTransferFlagBypassesTheLease) {
  Cluster c(3);
  ServerId l = c.elect();
  ASSERT_NE(l, 0u);
  ServerId f = l == 1 ? 2 : 1;
  ServerId other = 6 - l - f;
  Message v;
  v.type = RaftType::kRequestVote;
  v.from = other;
  v.to = f;
  v.term = c.n(f).term() + 1;
  v.last_log_index = c.n(f).last_index();
  v.last_log_term = c.n(f).term_at(v.last_log_index);
  v.pre_vote = true;
  v.transfer = true;  // a pre-vote never bypasses
  c.n(f).on_message(v, c.now);
  c.ready(f);
  EXPECT_FALSE(c.sent.back().granted);
  v.pre_vote = false;
  v.transfer = false;
  c.n(f).on_message(v, c.now);
  c.ready(f);
  EXPECT_FALSE(c.sent.back().granted);
  v.transfer = true;
  c.n(f).on_message(v, c.now);
  c.ready(f);
  EXPECT_TRUE(c.sent.back().granted);
  EXPECT_EQ(c.n(f).term(), v.term);
}

// A lagging target is brought up to date before TimeoutNow, so it can win and keeps every entry.
TEST(RaftTransfer, LaggingTargetCatchesUpFirst) {
  Cluster c(3);
  ServerId l = c.elect();
  ASSERT_NE(l, 0u);
  const ServerId target = l == 3 ? 1 : l + 1;
  c.cut.insert({l, target});
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(c.n(l).propose("x" + std::to_string(i), c.now).is_ok());
  c.deliver();
  ASSERT_LT(c.n(target).last_index(), c.n(l).last_index());
  c.heal();
  ASSERT_TRUE(c.n(l).transfer_leadership(target, c.now).is_ok());
  EXPECT_EQ(c.n(l).counters().timeout_now_sent, 0u) << "not before the target matches";
  c.advance(Duration::millis(40));
  EXPECT_EQ(c.leader(), target);
  EXPECT_GE(c.n(l).counters().timeout_now_sent, 1u);
  c.advance(Duration::millis(30));
  EXPECT_EQ(c.commands(target).size(), 40u);
}

// kNoServer picks the voter with the most of our log.
TEST(RaftTransfer, NoTargetPicksTheMostUpToDateVoter) {
  Cluster c(5);
  ServerId l = c.elect();
  ASSERT_NE(l, 0u);
  std::vector<ServerId> fs;
  for (ServerId id : c.ids) if (id != l) fs.push_back(id);
  // All but fs[2] miss the latest entries.
  for (ServerId f : fs) if (f != fs[2]) c.cut.insert({l, f});
  ASSERT_TRUE(c.n(l).propose("y", c.now).is_ok());
  c.deliver();
  c.heal();
  ASSERT_TRUE(c.n(l).transfer_leadership(raft::kNoServer, c.now).is_ok());
  EXPECT_EQ(c.n(l).transferring(), fs[2]);
}

// A target that never answers: the transfer is abandoned after an election timeout and the
// leader takes proposals again.
TEST(RaftTransfer, AbandonedAfterAnElectionTimeout) {
  Cluster c(3);
  ServerId l = c.elect();
  ASSERT_NE(l, 0u);
  const ServerId target = l == 3 ? 1 : l + 1;
  c.crash(target);
  ASSERT_TRUE(c.n(l).transfer_leadership(target, c.now).is_ok());
  c.advance(Duration::millis(50));
  EXPECT_EQ(c.n(l).transferring(), target);
  EXPECT_FALSE(c.n(l).propose("no", c.now).is_ok());
  c.advance(Duration::millis(60));
  EXPECT_EQ(c.n(l).transferring(), raft::kNoServer);
  EXPECT_EQ(c.n(l).counters().transfers_abandoned, 1u);
  EXPECT_EQ(c.leader(), l);
  EXPECT_TRUE(c.n(l).propose("yes", c.now).is_ok());
}

TEST(RaftTransfer, RefusalsSayWhy) {
  Cluster c(3);
  ServerId l = c.elect();
  ASSERT_NE(l, 0u);
  ServerId f = l == 1 ? 2 : 1;
  EXPECT_EQ(c.n(f).transfer_leadership(l, c.now).code(), base::Code::kUnavailable);
  EXPECT_EQ(c.n(l).transfer_leadership(l, c.now).code(), base::Code::kInvalidArgument);
  EXPECT_EQ(c.n(l).transfer_leadership(17, c.now).code(), base::Code::kInvalidArgument);
  c.isolate(l);
  ASSERT_TRUE(c.n(l).transfer_leadership(f, c.now).is_ok());
  EXPECT_EQ(c.n(l).transfer_leadership(f, c.now).code(), base::Code::kFailedPrecondition);
  Cluster one(1);
  ASSERT_EQ(one.elect(), 1u);
  EXPECT_EQ(one.n(1).transfer_leadership(raft::kNoServer, one.now).code(), base::Code::kFailedPrecondition);
}

// One answer is not a majority of five: a leader that reaches one follower does not confirm.
TEST(RaftRead, AMinorityOfAnswersDoesNotConfirm) {
  Cluster c(5);
  ServerId l = c.elect();
  ASSERT_NE(l, 0u);
  std::vector<ServerId> fs;
  for (ServerId id : c.ids) if (id != l) fs.push_back(id);
  c.isolate(l);
  c.cut.erase({l, fs[0]});
  c.cut.erase({fs[0], l});
  ASSERT_TRUE(c.n(l).read_index(1, c.now).is_ok());
  c.advance(Duration::millis(50));
  EXPECT_TRUE(c.reads[l].empty());
  c.cut.erase({l, fs[1]});
  c.cut.erase({fs[1], l});
  c.advance(Duration::millis(20));
  ASSERT_EQ(c.reads[l].size(), 1u) << "two answers and the leader make three of five";
}

// A message whose term is beyond any real cluster's is dropped: adopting it would make the next
// campaign's term + 1 overflow (the fuzzer's TimeoutNow at term 2^64 - 1).
TEST(RaftCore, TermsBeyondAnyRealClusterAreDropped) {
  Cluster c(3);
  for (RaftType t : {RaftType::kTimeoutNow, RaftType::kAppendEntries, RaftType::kRequestVote}) {
    Message m;
    m.type = t;
    m.from = 2;
    m.to = 1;
    m.term = UINT64_MAX;
    const uint64_t before = c.n(1).counters().invalid_messages;
    c.n(1).on_message(m, c.now);
    c.ready(1);
    EXPECT_EQ(c.n(1).counters().invalid_messages, before + 1);
    EXPECT_EQ(c.n(1).term(), 0u);
  }
}

// --- chapter 4: membership changes, one server at a time ------------------------------------------

namespace {

std::vector<ServerId> voters_of(const RaftCore& c) { return c.membership().voters; }

}  // namespace

// §4.2.1: a new server joins as a learner, receives the log without a vote (and never
// campaigns), and once caught up is promoted; from then on it counts in the majority.
TEST(RaftMembership, LearnerCatchesUpThenIsPromotedAndCounts) {
  Cluster c(3);
  ServerId l = c.elect();
  ASSERT_NE(l, 0u);
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(c.n(l).propose("x" + std::to_string(i), c.now).is_ok());
  c.deliver();
  c.join(4);
  c.advance(Duration::millis(500));
  EXPECT_EQ(c.n(4).counters().pre_votes_started, 0u) << "a server without a configuration never campaigns";
  auto idx = c.n(l).change_membership(raft::MembershipChange::kAddLearner, 4, c.now);
  ASSERT_TRUE(idx.is_ok()) << idx.status().to_string();
  EXPECT_EQ(c.n(l).entry(*idx).type, wire::EntryType::kConfig);
  EXPECT_TRUE(c.n(l).is_learner(4)) << "in effect on the leader at once (§4.1)";
  c.advance(Duration::millis(50));
  for (ServerId id : {1, 2, 3, 4}) {
    EXPECT_TRUE(c.n(id).is_learner(4)) << id;
    EXPECT_EQ(voters_of(c.n(id)), (std::vector<ServerId>{1, 2, 3})) << id;
  }
  EXPECT_EQ(c.commands(4).size(), 30u);
  EXPECT_EQ(c.n(4).counters().pre_votes_started, 0u);
  auto p = c.n(l).change_membership(raft::MembershipChange::kPromote, 4, c.now);
  ASSERT_TRUE(p.is_ok()) << p.status().to_string();
  c.advance(Duration::millis(50));
  for (ServerId id : {1, 2, 3, 4}) EXPECT_EQ(voters_of(c.n(id)), (std::vector<ServerId>{1, 2, 3, 4})) << id;
  // Four voters: the leader and one follower (2 of 4) no longer commit.
  std::vector<ServerId> fs;
  for (ServerId id : {1, 2, 3, 4}) if (id != l) fs.push_back(id);
  c.isolate(fs[0]);
  c.isolate(fs[1]);
  c.cut.erase({l, fs[2]});
  c.cut.erase({fs[2], l});
  const raft::Index commit = c.n(l).commit_index();
  ASSERT_TRUE(c.n(l).propose("needs three", c.now).is_ok());
  c.advance(Duration::millis(30));
  EXPECT_EQ(c.n(l).commit_index(), commit);
  c.heal();
  c.advance(Duration::millis(30));
  EXPECT_GT(c.n(l).commit_index(), commit);
  // A restarted server reads its configuration back from its log.
  c.crash(2);
  c.start(2);
  EXPECT_EQ(voters_of(c.n(2)), (std::vector<ServerId>{1, 2, 3, 4}));
}

// A learner that has not caught up is not promoted (§4.2.1), nor can leadership go to it.
TEST(RaftMembership, PromotionWaitsForTheLearnerToCatchUp) {
  Cluster c(3);
  ServerId l = c.elect();
  ASSERT_NE(l, 0u);
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(c.n(l).propose("x" + std::to_string(i), c.now).is_ok());
  c.deliver();
  c.join(4);
  c.cut.insert({l, 4});
  ASSERT_TRUE(c.n(l).change_membership(raft::MembershipChange::kAddLearner, 4, c.now).is_ok());
  c.advance(Duration::millis(30));
  auto p = c.n(l).change_membership(raft::MembershipChange::kPromote, 4, c.now);
  ASSERT_FALSE(p.is_ok());
  EXPECT_EQ(p.status().code(), base::Code::kFailedPrecondition);
  EXPECT_NE(p.status().message().find("not caught up"), std::string::npos);
  EXPECT_EQ(c.n(l).transfer_leadership(4, c.now).code(), base::Code::kInvalidArgument);
  c.heal();
  c.advance(Duration::millis(50));
  EXPECT_TRUE(c.n(l).change_membership(raft::MembershipChange::kPromote, 4, c.now).is_ok());
}

// §4.1: one change at a time -- the next waits until the previous one commits.
TEST(RaftMembership, OneChangeAtATime) {
  Cluster c(3);
  ServerId l = c.elect();
  ASSERT_NE(l, 0u);
  c.isolate(l);
  ASSERT_TRUE(c.n(l).change_membership(raft::MembershipChange::kAddLearner, 4, c.now).is_ok());
  auto second = c.n(l).change_membership(raft::MembershipChange::kAddLearner, 5, c.now);
  ASSERT_FALSE(second.is_ok());
  EXPECT_EQ(second.status().code(), base::Code::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("not committed"), std::string::npos);
  EXPECT_EQ(c.n(l).change_membership(raft::MembershipChange::kAddLearner, 1, c.now).status().code(),
            base::Code::kFailedPrecondition);
  c.heal();
  c.advance(Duration::millis(30));
  EXPECT_TRUE(c.n(l).change_membership(raft::MembershipChange::kAddLearner, 5, c.now).is_ok());
  c.advance(Duration::millis(30));
  EXPECT_EQ(c.n(l).change_membership(raft::MembershipChange::kAddLearner, 5, c.now).status().code(),
            base::Code::kAlreadyExists);
  EXPECT_EQ(c.n(l).change_membership(raft::MembershipChange::kPromote, 7, c.now).status().code(),
            base::Code::kNotFound);
  EXPECT_EQ(c.n(l).change_membership(raft::MembershipChange::kRemove, 7, c.now).status().code(),
            base::Code::kNotFound);
  ServerId f = l == 1 ? 2 : 1;
  EXPECT_EQ(c.n(f).change_membership(raft::MembershipChange::kRemove, 5, c.now).status().code(),
            base::Code::kUnavailable);
}

// The 2015 fix: a new leader appends no configuration before it committed an entry of its term.
TEST(RaftMembership, NewLeaderChangesNothingBeforeItsFirstCommit) {
  Cluster c(3);
  c.mangle = [](Message& m) { return m.type != RaftType::kAppendEntriesReply; };
  c.fire(1);
  ASSERT_EQ(c.n(1).role(), Role::kLeader);
  auto r = c.n(1).change_membership(raft::MembershipChange::kRemove, 3, c.now);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), base::Code::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("entry of its term"), std::string::npos);
  c.mangle = nullptr;
  c.advance(Duration::millis(30));
  EXPECT_TRUE(c.n(1).change_membership(raft::MembershipChange::kRemove, 3, c.now).is_ok());
}

// A removed follower no longer counts. The leader stops sending to it at once, so it never
// learns it was removed and times out; §4.2.3's point: its pre-votes are refused by servers that
// hear the leader, so it cannot disrupt the cluster. The two voters left commit alone.
TEST(RaftMembership, RemovedFollowerDoesNotDisrupt) {
  Cluster c(3);
  ServerId l = c.elect();
  ASSERT_NE(l, 0u);
  const raft::Term t = c.n(l).term();
  ServerId gone = l == 3 ? 1 : 3;
  ASSERT_TRUE(c.n(l).change_membership(raft::MembershipChange::kRemove, gone, c.now).is_ok());
  c.advance(Duration::millis(1000));
  EXPECT_GT(c.n(gone).counters().pre_votes_started, 0u);
  EXPECT_EQ(c.n(gone).counters().elections_started, 0u);
  EXPECT_EQ(c.leader(), l);
  EXPECT_EQ(c.n(l).term(), t);
  c.crash(gone);
  ASSERT_TRUE(c.n(l).propose("two of two", c.now).is_ok());
  c.advance(Duration::millis(30));
  ServerId other = 6 - l - gone;
  EXPECT_EQ(c.commands(other).back(), "two of two");
  EXPECT_EQ(voters_of(c.n(other)).size(), 2u);
}

// §4.2.2: a leader that removes itself leads until the change commits, without counting itself,
// then steps down; the remaining voters elect a leader and it never campaigns again.
TEST(RaftMembership, LeaderRemovingItselfStepsDownOnceCommitted) {
  Cluster c(3);
  ServerId l = c.elect();
  ASSERT_NE(l, 0u);
  ASSERT_TRUE(c.n(l).change_membership(raft::MembershipChange::kRemove, l, c.now).is_ok());
  EXPECT_EQ(c.n(l).role(), Role::kLeader);
  c.deliver();
  EXPECT_NE(c.n(l).role(), Role::kLeader);
  EXPECT_EQ(c.n(l).counters().removed_stepdowns, 1u);
  ServerId l2 = c.elect();
  ASSERT_NE(l2, 0u);
  EXPECT_NE(l2, l);
  EXPECT_EQ(c.n(l).counters().elections_started, 1u);
  EXPECT_EQ(voters_of(c.n(l2)).size(), 2u);
}

// §4.1: an uncommitted configuration that a new leader's log replaces is undone: the server
// falls back to the previous configuration in its log.
TEST(RaftMembership, ReplacedConfigurationFallsBack) {
  Cluster c(5);
  ServerId l = c.elect();
  ASSERT_NE(l, 0u);
  std::vector<ServerId> fs;
  for (ServerId id : c.ids) if (id != l) fs.push_back(id);
  // Only fs[0] receives the change; nobody acknowledges it.
  for (ServerId f : fs) {
    c.cut.insert({f, l});
    if (f != fs[0]) c.cut.insert({l, f});
  }
  ASSERT_TRUE(c.n(l).change_membership(raft::MembershipChange::kAddLearner, 9, c.now).is_ok());
  c.deliver();
  ASSERT_TRUE(c.n(fs[0]).is_learner(9));
  // The leader and fs[0] are cut off; the other three elect a leader whose log replaces it.
  c.heal();
  c.isolate(l);
  c.isolate(fs[0]);
  ServerId l2 = 0;
  for (int i = 0; i < 40 && (l2 == 0 || l2 == l); ++i) {
    c.advance(Duration::millis(50));
    l2 = 0;
    for (ServerId f : {fs[1], fs[2], fs[3]}) if (c.n(f).role() == Role::kLeader) l2 = f;
  }
  ASSERT_NE(l2, 0u);
  ASSERT_TRUE(c.n(l2).propose("new", c.now).is_ok());
  c.advance(Duration::millis(30));
  c.heal();
  c.advance(Duration::millis(300));
  EXPECT_FALSE(c.n(fs[0]).is_learner(9));
  EXPECT_EQ(c.n(fs[0]).membership_index(), 0u) << "back to the bootstrap configuration";
  EXPECT_EQ(c.commands(fs[0]).back(), "new");
}
