// Chapter 5 in the core, driven by hand: log compaction (§5.1), InstallSnapshot in chunks with
// flow control (Figure 5.3), the follower's bounded accumulation and its receiver rules 6 and 7,
// restarts from a compacted log, recover_snapshot() after a crash between saving a snapshot and
// the sync of the Ready that installs it, and MemStorage's compaction. A tiny host plays the
// raft.h contract: its state machine is the list of applied commands, its snapshot image that
// list joined, and it keeps one saved snapshot per server that survives crashes.
#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "agent/raft/mem_storage.h"
#include "agent/raft/raft.h"

using base::Duration;
using base::MonoTime;
using raft::Entry;
using raft::Index;
using raft::Message;
using raft::RaftConfig;
using raft::RaftCore;
using raft::Role;
using raft::ServerId;
using raft::SnapshotMeta;
using wire::RaftType;

namespace {

std::string encode_state(const std::vector<std::string>& cmds) {
  std::string out;
  for (const std::string& c : cmds) out += c + "\n";
  return out;
}

std::vector<std::string> decode_state(const std::string& image) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < image.size()) {
    size_t j = image.find('\n', i);
    out.push_back(image.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

struct Host {
  std::unique_ptr<raft::MemStorage> disk = std::make_unique<raft::MemStorage>();
  std::optional<raft::Snapshot> saved;  // the host's snapshot file: survives crashes
  std::vector<std::string> state;       // the state machine (in memory: lost at a crash)
  Index applied = 0;
  uint64_t installs = 0;
  bool crash_after_save = false;        // crash between step 0 and step 1 of the next snapshot
};

struct Cluster {
  MonoTime now = MonoTime::from_ns(0);
  std::vector<ServerId> ids;
  std::function<void(ServerId, RaftConfig&)> tweak;
  std::map<ServerId, Host> hosts;
  std::map<ServerId, std::unique_ptr<RaftCore>> nodes;
  std::deque<Message> net;
  std::set<std::pair<ServerId, ServerId>> cut;
  std::function<bool(Message&)> mangle;
  std::vector<Message> sent;

  explicit Cluster(size_t n, std::function<void(ServerId, RaftConfig&)> t = nullptr) : tweak(std::move(t)) {
    for (size_t i = 1; i <= n; ++i) ids.push_back(i);
    for (ServerId id : ids) start(id);
  }
  RaftConfig config(ServerId id) {
    RaftConfig c;
    c.id = id;
    c.voters = ids;
    c.election_timeout = Duration::millis(100);
    c.heartbeat_interval = Duration::millis(10);
    c.snapshot_chunk_bytes = 64;
    c.snapshot_chunks_inflight_max = 2;
    if (tweak) tweak(id, c);
    return c;
  }
  // The host's start (raft.h): recover the saved snapshot, restore the state machine from it,
  // build the core, hand it the snapshot.
  void start(ServerId id) {
    Host& h = hosts[id];
    h.state.clear();
    h.applied = 0;
    if (h.saved) {
      ASSERT_TRUE(raft::recover_snapshot(*h.disk, h.saved->meta).is_ok());
      h.state = decode_state(*h.saved->data);
      h.applied = h.saved->meta.index;
    }
    ASSERT_LE(h.disk->snapshot_meta().index, h.applied);
    nodes[id] = std::make_unique<RaftCore>(config(id), *h.disk, id * 7 + h.applied, now, h.applied);
    if (h.saved) {
      ASSERT_TRUE(nodes[id]->set_snapshot(h.saved->meta, h.saved->data).is_ok());
    }
  }
  void crash(ServerId id) {
    nodes.erase(id);
    hosts[id].disk->crash();
  }
  RaftCore& n(ServerId id) { return *nodes.at(id); }
  Host& h(ServerId id) { return hosts.at(id); }
  void isolate(ServerId id) {
    for (ServerId o : ids) {
      if (o != id) cut.insert({id, o}), cut.insert({o, id});
    }
  }
  void heal() { cut.clear(); }

  void ready(ServerId id) {
    while (nodes.count(id) && n(id).has_ready()) {
      Host& hs = h(id);
      raft::Ready rd = n(id).take_ready();
      if (rd.snapshot) {
        hs.saved = *rd.snapshot;  // step 0: saved durably
        if (hs.crash_after_save) {
          hs.crash_after_save = false;
          crash(id);
          return;
        }
      }
      ASSERT_TRUE(raft::write_ready(*hs.disk, rd).is_ok());
      ASSERT_TRUE(hs.disk->sync().is_ok());
      if (rd.snapshot) {  // step 2: restore, then apply after it
        hs.state = decode_state(*rd.snapshot->data);
        hs.applied = rd.snapshot->meta.index;
        ++hs.installs;
      }
      for (auto& m : rd.messages) post(m);
      for (auto& e : rd.committed) {
        EXPECT_EQ(e.index, hs.applied + 1) << "server " << id;
        hs.applied = e.index;
        if (e.type == wire::EntryType::kCommand) hs.state.push_back(e.data);
      }
      n(id).on_persisted(rd.id, now);
    }
  }
  void post(Message m) {
    sent.push_back(m);
    if (cut.count({m.from, m.to})) return;
    if (mangle && !mangle(m)) return;
    std::string bytes = wire::encode_raft_message(m);
    Message d;
    EXPECT_TRUE(wire::decode_raft_message(base::as_bytes(bytes), &d).is_ok());
    net.push_back(std::move(d));
  }
  void deliver() {
    for (int guard = 0; guard < 100000; ++guard) {
      for (ServerId id : ids) ready(id);
      if (net.empty()) return;
      Message m = std::move(net.front());
      net.pop_front();
      auto it = nodes.find(m.to);
      if (it != nodes.end()) it->second->on_message(m, now);
    }
    FAIL() << "network never went quiet";
  }
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
  // The host takes a snapshot at its applied index and compacts, keeping `keep` entries.
  void snapshot(ServerId id, Index keep = 0) {
    Host& hs = h(id);
    const SnapshotMeta meta = n(id).snapshot_meta_at(hs.applied);  // index, term, configuration
    hs.saved = raft::Snapshot{meta, std::make_shared<const std::string>(encode_state(hs.state))};
    ASSERT_TRUE(n(id).set_snapshot(meta, hs.saved->data).is_ok());
    ASSERT_TRUE(n(id).compact(meta.index - keep).is_ok());
    deliver();
  }
  void propose(ServerId l, int count, const std::string& prefix) {
    for (int i = 0; i < count; ++i) {
      ASSERT_TRUE(n(l).propose(prefix + std::to_string(i) + "-padding-to-make-chunks", now).is_ok());
    }
    deliver();
    advance(Duration::millis(30));
  }
};

// The configuration the hand-made chunks below carry (the bootstrap voters of Cluster(3)).
const wire::RaftMembership kConfig123{{1, 2, 3}, {}};

size_t count(const std::vector<Message>& ms, RaftType t) {
  size_t k = 0;
  for (const Message& m : ms) k += m.type == t;
  return k;
}

Message chunk(ServerId from, ServerId to, raft::Term term, SnapshotMeta meta, const std::string& image, uint64_t offset,
              size_t len) {
  Message m;
  m.type = RaftType::kInstallSnapshot;
  m.from = from;
  m.to = to;
  m.term = term;
  m.snapshot_index = meta.index;
  m.snapshot_term = meta.term;
  m.snapshot_config = meta.config.voters.empty() ? wire::RaftMembership{{1, 2, 3}, {}} : meta.config;
  m.snapshot_bytes = image.size();
  m.offset = offset;
  m.data = image.substr(offset, len);
  m.done = offset + m.data.size() == image.size();
  return m;
}

// Seeds a disk with a term and a log of the given terms (indexes from 1), synced.
void preload(raft::MemStorage& d, raft::Term term, std::vector<raft::Term> terms) {
  ASSERT_TRUE(d.save_hard_state({term, raft::kNoServer}).is_ok());
  std::vector<Entry> es;
  for (size_t i = 0; i < terms.size(); ++i) es.push_back({i + 1, terms[i], wire::EntryType::kCommand, "e" + std::to_string(i + 1)});
  ASSERT_TRUE(d.append(es).is_ok());
  ASSERT_TRUE(d.sync().is_ok());
}

// One core as follower 2 of {1, 2, 3}, its Readies collected rather than performed.
struct Lone {
  raft::MemStorage disk;
  std::unique_ptr<RaftCore> core;
  MonoTime now = MonoTime::from_ns(0);
  Lone(raft::Term term, std::vector<raft::Term> terms, std::function<void(RaftConfig&)> tweak = nullptr) {
    preload(disk, term, std::move(terms));
    RaftConfig c;
    c.id = 2;
    c.voters = {1, 2, 3};
    if (tweak) tweak(c);
    core = std::make_unique<RaftCore>(c, disk, 3, now);
  }
  // Feeds `m` and performs the Ready that follows; returns it.
  raft::Ready feed(const Message& m) {
    core->on_message(m, now);
    raft::Ready rd = core->take_ready();
    EXPECT_TRUE(raft::write_ready(disk, rd).is_ok());
    EXPECT_TRUE(disk.sync().is_ok());
    core->on_persisted(rd.id, now);
    return rd;
  }
  static const Message& reply(const raft::Ready& rd) {
    EXPECT_EQ(rd.messages.size(), 1u);
    EXPECT_EQ(rd.messages[0].type, RaftType::kInstallSnapshotReply);
    return rd.messages.at(0);
  }
};

}  // namespace

TEST(RaftSnapshot, LaggingFollowerCatchesUpByInstallSnapshotInChunks) {
  // §5.1: a follower cut off while the leader compacted its log past what the follower holds gets
  // the snapshot in chunks (64 bytes, at most 2 in flight), installs it and then replicates.
  Cluster c(3);
  ServerId l = c.elect();
  ASSERT_NE(l, 0u);
  ServerId f = l == 3 ? 2 : 3;
  c.isolate(f);
  c.propose(l, 20, "a");
  c.snapshot(l);
  EXPECT_GT(c.n(l).log_start().index, 20u);
  EXPECT_EQ(c.h(l).disk->durable_snapshot_meta(), c.n(l).log_start()) << "compact_to reached the storage, synced";
  c.heal();
  c.sent.clear();
  c.advance(Duration::millis(200));
  EXPECT_EQ(c.n(l).counters().snapshots_sent, 1u);
  EXPECT_GE(count(c.sent, RaftType::kInstallSnapshot), 8u) << "the image went in many chunks";
  EXPECT_EQ(c.h(f).installs, 1u);
  EXPECT_EQ(c.n(f).log_start(), c.h(l).saved->meta);
  EXPECT_EQ(c.h(f).disk->durable_snapshot_meta(), c.h(l).saved->meta);
  EXPECT_EQ(c.h(f).state, c.h(l).state);
  // The chunk window was respected: never more than 2 unacknowledged chunks of one transfer.
  // (Replication then continues with AppendEntries.)
  c.propose(l, 3, "b");
  EXPECT_EQ(c.h(f).state, c.h(l).state);
  EXPECT_EQ(c.h(f).state.size(), 23u);
}

TEST(RaftSnapshot, ChunkWindowIsBounded) {
  // Flow control: with no replies the leader sends exactly snapshot_chunks_inflight_max chunks.
  Cluster c(3);
  ServerId l = c.elect();
  ServerId f = l == 3 ? 2 : 3;
  c.isolate(f);
  c.propose(l, 20, "a");
  c.snapshot(l);
  c.heal();
  c.mangle = [f](Message& m) { return m.from != f; };  // the follower's answers are lost
  c.sent.clear();
  c.advance(Duration::millis(12));  // one heartbeat
  EXPECT_EQ(count(c.sent, RaftType::kInstallSnapshot), 2u);
}

TEST(RaftSnapshot, LostChunksAreResentAndTheTransferCompletes) {
  // Every third chunk is lost on its first try: the follower answers the next one with
  // "mismatch" (or nothing arrives and the window times out); the leader resends from there.
  Cluster c(3);
  ServerId l = c.elect();
  ServerId f = l == 3 ? 2 : 3;
  c.isolate(f);
  c.propose(l, 20, "a");
  c.snapshot(l);
  c.heal();
  std::set<uint64_t> dropped;
  size_t k = 0;
  c.mangle = [&](Message& m) {
    if (m.type != RaftType::kInstallSnapshot) return true;
    if (++k % 3 == 0 && dropped.insert(m.offset).second) return false;
    return true;
  };
  c.advance(Duration::millis(400));
  EXPECT_GT(dropped.size(), 0u);
  EXPECT_GT(c.n(l).counters().snapshot_resends, 0u);
  EXPECT_EQ(c.h(f).installs, 1u);
  EXPECT_EQ(c.h(f).state, c.h(l).state);
}

TEST(RaftSnapshot, InstallRetainsTheMatchingSuffix) {
  // Figure 5.3 receiver 6: the log holds the snapshot's last entry (same index and term): entries
  // after it stay; commit and applied move to the snapshot; the reply leaves with the Ready.
  Lone x(2, {1, 1, 2, 2, 2});
  const std::string image = "state-at-3";
  raft::Ready rd = x.feed(chunk(1, 2, 2, {3, 2}, image, 0, image.size()));
  ASSERT_TRUE(rd.snapshot.has_value());
  EXPECT_EQ(rd.snapshot->meta, (SnapshotMeta{3, 2, kConfig123}));
  EXPECT_EQ(*rd.snapshot->data, image);
  EXPECT_EQ(rd.truncate_from, 0u);
  EXPECT_TRUE(rd.committed.empty()) << "the snapshot replaces applying 1..3";
  const Message& r = Lone::reply(rd);
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.last_log_index, 5u);
  EXPECT_EQ(x.core->log_start(), (SnapshotMeta{3, 2, kConfig123}));
  EXPECT_EQ(x.core->last_index(), 5u);
  EXPECT_EQ(x.core->commit_index(), 3u);
  EXPECT_EQ(x.core->applied_index(), 3u);
  EXPECT_EQ(x.disk.durable_snapshot_meta(), (SnapshotMeta{3, 2, kConfig123}));
  EXPECT_EQ(x.disk.durable_last_index(), 5u);
  EXPECT_EQ(x.disk.entries(1).front().index, 4u);
  EXPECT_EQ(x.core->snapshot().meta, (SnapshotMeta{3, 2, kConfig123})) << "a follower can serve what it installed";
}

TEST(RaftSnapshot, InstallDiscardsAConflictingLog) {
  // Receiver 7: the log's entry at the snapshot's index has another term: the whole log goes,
  // in memory and (truncate_from after apply_snapshot) on disk.
  Lone x(3, {1, 1, 2, 2, 2});
  const std::string image = "state-at-4";
  raft::Ready rd = x.feed(chunk(1, 2, 3, {4, 3}, image, 0, image.size()));
  ASSERT_TRUE(rd.snapshot.has_value());
  EXPECT_EQ(rd.truncate_from, 5u);
  EXPECT_EQ(x.core->log_start(), (SnapshotMeta{4, 3, kConfig123}));
  EXPECT_EQ(x.core->last_index(), 4u);
  EXPECT_EQ(x.disk.durable_last_index(), 4u);
  EXPECT_TRUE(x.disk.entries(1).empty());
  EXPECT_TRUE(Lone::reply(rd).done);
  // The log continues after the snapshot: an AppendEntries at prev (4, 3) matches.
  Message a;
  a.type = RaftType::kAppendEntries;
  a.from = 1;
  a.to = 2;
  a.term = 3;
  a.prev_log_index = 4;
  a.prev_log_term = 3;
  a.entries = {{5, 3, wire::EntryType::kCommand, "five"}};
  raft::Ready r2 = x.feed(a);
  ASSERT_EQ(r2.messages.size(), 1u);
  EXPECT_TRUE(r2.messages[0].success);
  EXPECT_EQ(x.disk.durable_last_index(), 5u);
}

TEST(RaftSnapshot, ChunksOutOfOrderDuplicatedOrOversizedAreRefusedOrReset) {
  // The follower accumulates one image, in order, bounded by snapshot_bytes_max.
  Lone x(2, {1, 1}, [](RaftConfig& c) { c.snapshot_bytes_max = 100; });
  const std::string image(40, 'x');
  const SnapshotMeta meta{5, 2, kConfig123};
  // A chunk of an image not started: resend from 0.
  raft::Ready rd = x.feed(chunk(1, 2, 2, meta, image, 10, 10));
  EXPECT_TRUE(Lone::reply(rd).mismatch);
  EXPECT_EQ(Lone::reply(rd).offset, 0u);
  rd = x.feed(chunk(1, 2, 2, meta, image, 0, 10));
  EXPECT_FALSE(Lone::reply(rd).mismatch);
  EXPECT_EQ(Lone::reply(rd).offset, 10u);
  // A duplicate adds nothing; a gap is a mismatch naming what is held.
  rd = x.feed(chunk(1, 2, 2, meta, image, 0, 10));
  EXPECT_EQ(Lone::reply(rd).offset, 10u);
  rd = x.feed(chunk(1, 2, 2, meta, image, 20, 10));
  EXPECT_TRUE(Lone::reply(rd).mismatch);
  EXPECT_EQ(Lone::reply(rd).offset, 10u);
  // Another image (other term) starting at 0 replaces the partial one.
  const SnapshotMeta meta2{6, 2, kConfig123};
  rd = x.feed(chunk(1, 2, 2, meta2, image, 0, 20));
  EXPECT_EQ(Lone::reply(rd).offset, 20u);
  rd = x.feed(chunk(1, 2, 2, meta, image, 10, 10));
  EXPECT_TRUE(Lone::reply(rd).mismatch) << "the old image is gone";
  EXPECT_EQ(Lone::reply(rd).offset, 0u);
  rd = x.feed(chunk(1, 2, 2, meta2, image, 20, 20));
  EXPECT_TRUE(Lone::reply(rd).done);
  EXPECT_EQ(x.core->log_start(), meta2);
  // An image over the bound is refused at its first chunk, and nothing is kept.
  const std::string big(101, 'y');
  rd = x.feed(chunk(1, 2, 2, {9, 2}, big, 0, 50));
  EXPECT_TRUE(Lone::reply(rd).refused);
  EXPECT_EQ(x.core->counters().snapshots_refused, 1u);
  EXPECT_EQ(x.core->log_start(), meta2);
  // A snapshot at or below the commit index is answered done at once, installing nothing.
  rd = x.feed(chunk(1, 2, 2, {6, 2}, image, 0, 10));
  EXPECT_TRUE(Lone::reply(rd).done);
  EXPECT_FALSE(rd.snapshot.has_value());
  // A snapshot term after the sender's term is malformed.
  const uint64_t invalid = x.core->counters().invalid_messages;
  x.core->on_message(chunk(1, 2, 2, {12, 3}, image, 0, 40), x.now);
  EXPECT_EQ(x.core->counters().invalid_messages, invalid + 1);
}

TEST(RaftSnapshot, RefusedSnapshotIsRetriedAfterAnElectionTimeoutAndHeartbeatsGoOn) {
  // A follower whose snapshot_bytes_max is below the image refuses it; the leader keeps its
  // authority over it (no election) and tries again only after an election timeout.
  Cluster c(3, [](ServerId id, RaftConfig& k) {
    if (id == 3) k.snapshot_bytes_max = 64;
  });
  ServerId l = c.elect();
  ASSERT_NE(l, 0u);
  if (l == 3) GTEST_SKIP() << "needs server 3 as a follower";
  c.isolate(3);
  c.propose(l, 20, "a");
  c.snapshot(l);
  c.heal();
  c.sent.clear();
  c.advance(Duration::millis(250));
  EXPECT_GE(c.n(3).counters().snapshots_refused, c.n(l).counters().snapshots_sent) << "every chunk of the window is refused";
  EXPECT_GE(c.n(l).counters().snapshots_sent, 2u);
  EXPECT_LE(c.n(l).counters().snapshots_sent, 4u) << "retries are paced by the election timeout";
  EXPECT_EQ(c.leader(), l);
  EXPECT_EQ(c.n(3).leader(), l);
  EXPECT_EQ(c.h(3).installs, 0u);
}

TEST(RaftSnapshot, CompactAndSetSnapshotRefuseWhatWouldLoseEntries) {
  Cluster c(1);
  ASSERT_EQ(c.elect(), 1u);
  c.propose(1, 5, "a");
  RaftCore& x = c.n(1);
  const Index applied = c.h(1).applied;
  EXPECT_EQ(x.compact(applied).code(), base::Code::kFailedPrecondition) << "no snapshot covers it";
  auto img = std::make_shared<const std::string>("img");
  ASSERT_TRUE(x.set_snapshot({3, x.term_at(3)}, img).is_ok());
  EXPECT_EQ(x.compact(4).code(), base::Code::kFailedPrecondition) << "past the snapshot";
  EXPECT_EQ(x.set_snapshot({4, x.term_at(4) + 1}, img).code(), base::Code::kFailedPrecondition)
      << "another term than the log's";
  EXPECT_EQ(x.set_snapshot({x.last_index() + 1, x.term()}, img).code(), base::Code::kFailedPrecondition)
      << "beyond the log";
  EXPECT_EQ(x.set_snapshot({4, 1}, nullptr).code(), base::Code::kInvalidArgument);
  ASSERT_TRUE(x.compact(3).is_ok());
  ASSERT_TRUE(x.has_ready());
  raft::Ready rd = x.take_ready();
  EXPECT_EQ(rd.compact_to, 3u);
  EXPECT_TRUE(rd.needs_sync());
  ASSERT_TRUE(raft::write_ready(*c.h(1).disk, rd).is_ok());
  ASSERT_TRUE(c.h(1).disk->sync().is_ok());
  x.on_persisted(rd.id, c.now);
  EXPECT_EQ(c.h(1).disk->durable_snapshot_meta().index, 3u);
  EXPECT_EQ(x.first_index(), 4u);
  EXPECT_EQ(x.compact(2).code(), base::Code::kOk) << "at or below the log start: nothing";
  EXPECT_EQ(x.set_snapshot({2, x.term()}, img).code(), base::Code::kFailedPrecondition) << "older than the log start";
  EXPECT_EQ(x.compact(applied + 1).code(), base::Code::kFailedPrecondition) << "past applied";
}

TEST(RaftSnapshot, RestartFromACompactedLogRestoresTheSnapshotAndCatchesUp) {
  // Every server compacts; then all crash and restart: each core loads its log start and the
  // entries after it, the host restores the state machine from its saved snapshot, and the
  // cluster goes on committing.
  Cluster c(3);
  ServerId l = c.elect();
  c.propose(l, 10, "a");
  for (ServerId id : c.ids) c.snapshot(id, /*keep=*/2);
  c.propose(l, 4, "b");
  const auto want = c.h(l).state;
  for (ServerId id : c.ids) c.crash(id);
  for (ServerId id : c.ids) {
    c.start(id);
    EXPECT_GT(c.n(id).log_start().index, 0u);
    EXPECT_EQ(c.n(id).log_start().index + 2, c.h(id).saved->meta.index) << "kept 2 entries below the snapshot";
  }
  l = c.elect();
  ASSERT_NE(l, 0u);
  c.propose(l, 1, "c");
  for (ServerId id : c.ids) {
    ASSERT_EQ(c.h(id).state.size(), want.size() + 1) << "server " << id;
    EXPECT_TRUE(std::equal(want.begin(), want.end(), c.h(id).state.begin()));
  }
}

TEST(RaftSnapshot, CrashBetweenSavingAndInstallingIsRecovered) {
  // The follower saved the leader's snapshot (step 0) and crashed before step 1's sync: its
  // storage still holds the old log and term. recover_snapshot() at start finishes the install
  // (term raised, log start moved, the rest dropped) and the follower catches up from there.
  Cluster c(3);
  ServerId l = c.elect();
  ServerId f = l == 3 ? 2 : 3;
  c.isolate(f);
  c.propose(l, 20, "a");
  c.snapshot(l);
  c.h(f).crash_after_save = true;
  c.heal();
  c.advance(Duration::millis(200));
  ASSERT_EQ(c.nodes.count(f), 0u) << "the follower crashed after saving";
  ASSERT_TRUE(c.h(f).saved.has_value());
  EXPECT_NE(c.h(f).disk->durable_snapshot_meta(), c.h(f).saved->meta);
  c.start(f);
  EXPECT_EQ(c.n(f).log_start(), c.h(f).saved->meta);
  EXPECT_EQ(c.h(f).disk->durable_snapshot_meta(), c.h(f).saved->meta);
  c.propose(l, 2, "b");
  EXPECT_EQ(c.h(f).state, c.h(l).state);
}

TEST(RaftSnapshot, RecoverSnapshotRefusesASnapshotOlderThanTheLogStart) {
  raft::MemStorage d;
  preload(d, 2, {1, 1, 2, 2});
  ASSERT_TRUE(d.compact(3).is_ok());
  ASSERT_TRUE(d.sync().is_ok());
  EXPECT_EQ(raft::recover_snapshot(d, {2, 1}).code(), base::Code::kFailedPrecondition);
  const uint64_t syncs = d.syncs();
  EXPECT_TRUE(raft::recover_snapshot(d, {4, 2}).is_ok()) << "held by the log: nothing to do";
  EXPECT_EQ(d.syncs(), syncs);
  EXPECT_TRUE(raft::recover_snapshot(d, {6, 3}).is_ok()) << "beyond the log: installed";
  EXPECT_EQ(d.durable_snapshot_meta(), (SnapshotMeta{6, 3}));
  EXPECT_EQ(d.durable_hard_state().term, 3u);
  EXPECT_EQ(d.durable_last_index(), 6u);
}

TEST(RaftSnapshot, AppendEntriesReachingBeforeTheLogStartMatchFromIt) {
  // §5.1: entries up to the log start are committed, so the part of an AppendEntries they cover
  // is skipped and the rest is checked from the log start.
  Lone x(2, {1, 1, 2, 2, 2});
  const std::string image = "s";
  x.feed(chunk(1, 2, 2, {4, 2}, image, 0, 1));
  Message a;
  a.type = RaftType::kAppendEntries;
  a.from = 1;
  a.to = 2;
  a.term = 2;
  a.prev_log_index = 2;
  a.prev_log_term = 1;
  a.entries = {{3, 2, wire::EntryType::kCommand, "e3"}};
  raft::Ready rd = x.feed(a);
  ASSERT_EQ(rd.messages.size(), 1u);
  EXPECT_TRUE(rd.messages[0].success);
  EXPECT_EQ(rd.messages[0].index, 4u) << "matches up to the log start";
  a.entries = {{3, 2, wire::EntryType::kCommand, "e3"}, {4, 2, wire::EntryType::kCommand, "e4"},
               {5, 2, wire::EntryType::kCommand, "e5"}, {6, 2, wire::EntryType::kCommand, "e6"}};
  rd = x.feed(a);
  ASSERT_EQ(rd.messages.size(), 1u);
  EXPECT_TRUE(rd.messages[0].success);
  EXPECT_EQ(rd.messages[0].index, 6u);
  EXPECT_EQ(x.core->last_index(), 6u);
}

TEST(MemStorage, CompactionAndSnapshotsAreDurableOnlyAfterSync) {
  raft::MemStorage d;
  preload(d, 2, {1, 1, 2, 2, 2});
  ASSERT_TRUE(d.compact(3).is_ok());
  EXPECT_EQ(d.snapshot_meta(), (SnapshotMeta{3, 2}));
  EXPECT_EQ(d.first_index(), 4u);
  EXPECT_EQ(d.entries(1).size(), 2u);
  d.crash();
  EXPECT_EQ(d.snapshot_meta(), (SnapshotMeta{}));
  EXPECT_EQ(d.entries(1).size(), 5u);
  ASSERT_TRUE(d.compact(3).is_ok());
  ASSERT_TRUE(d.sync().is_ok());
  EXPECT_EQ(d.truncate_suffix(3).code(), base::Code::kInvalidArgument) << "at the log start";
  EXPECT_EQ(d.compact(9).code(), base::Code::kInvalidArgument) << "past the end";
  EXPECT_EQ(d.apply_snapshot({2, 1}).code(), base::Code::kInvalidArgument) << "behind the log start";
  ASSERT_TRUE(d.apply_snapshot({8, 3}).is_ok());
  EXPECT_EQ(d.last_index(), 8u);
  EXPECT_TRUE(d.entries(1).empty());
  ASSERT_TRUE(d.append(std::vector<Entry>{{9, 3, wire::EntryType::kCommand, "n"}}).is_ok());
  EXPECT_EQ(d.append(std::vector<Entry>{{11, 3, wire::EntryType::kCommand, "gap"}}).code(), base::Code::kInvalidArgument);
  ASSERT_TRUE(d.sync().is_ok());
  EXPECT_EQ(d.durable_snapshot_meta(), (SnapshotMeta{8, 3}));
  EXPECT_EQ(d.durable_last_index(), 9u);
}

TEST(RaftSnapshot, ALeaderChangeMidTransferStartsTheNewLeadersImage) {
  // The leader dies after two chunks of its image reached the follower; the next leader (which
  // compacted too, so it must send its own image) starts over at offset 0 in its term -- the
  // partial image from the earlier term is dropped -- and the follower installs the new one.
  Cluster c(3);
  ServerId l = c.elect();
  ServerId f = l == 3 ? 2 : 3;
  ServerId o = 6 - l - f;
  c.isolate(f);
  c.propose(l, 20, "a");
  c.snapshot(l);
  c.snapshot(o);
  c.heal();
  size_t chunks = 0;
  c.mangle = [&](Message& m) { return m.type != RaftType::kInstallSnapshot || ++chunks <= 2; };
  c.advance(Duration::millis(20));
  ASSERT_GE(chunks, 2u);
  EXPECT_EQ(c.h(f).installs, 0u);
  c.mangle = nullptr;
  c.crash(l);
  ServerId l2 = 0;
  for (int i = 0; i < 40 && (l2 == 0 || l2 == l); ++i) {
    c.advance(Duration::millis(50));
    l2 = c.leader();
  }
  ASSERT_NE(l2, 0u);
  c.advance(Duration::millis(200));
  EXPECT_EQ(c.h(f).installs, 1u);
  EXPECT_EQ(c.h(f).state, c.h(l2).state);
  c.propose(l2, 2, "b");
  EXPECT_EQ(c.h(f).state, c.h(l2).state);
}

namespace {

// Servers 1-3 bootstrap as voters; server 4 starts with no configuration (it joins).
void joiner_tweak(ServerId id, RaftConfig& c) {
  c.voters = id == 4 ? std::vector<ServerId>{} : std::vector<ServerId>{1, 2, 3};
}

// Runs one membership change on the leader and lets it commit; a promotion is retried while the
// learner catches up (§4.2.1), at most `tries` rounds.
void change(Cluster& c, ServerId l, raft::MembershipChange kind, ServerId id, int tries = 20) {
  for (int i = 0; i < tries; ++i) {
    auto r = c.n(l).change_membership(kind, id, c.now);
    if (r.is_ok()) {
      c.deliver();
      c.advance(Duration::millis(30));
      ASSERT_GE(c.n(l).commit_index(), *r) << "the configuration entry committed";
      return;
    }
    ASSERT_EQ(r.status().code(), base::Code::kFailedPrecondition) << r.status().to_string();
    c.advance(Duration::millis(20));
  }
  FAIL() << "membership change on " << id << " never accepted";
}

}  // namespace

TEST(RaftSnapshot, ACompactedConfigurationReachesANewServerByInstallSnapshot) {
  // §4.1 + §5.1: the leader adds server 4 as a learner while 4 is cut off, then compacts its log
  // past that configuration entry. Server 4, which has no bootstrap configuration, can only learn
  // the configuration from the snapshot (InstallSnapshot carries it, Figure 5.3 lastConfig); it
  // installs it, knows it is a learner, is promoted once caught up (§4.2.1) and then counts in
  // the majority: with a second old voter cut off, commits need it. It keeps the configuration
  // across a restart though its own RaftConfig::voters is empty.
  Cluster c(4, joiner_tweak);
  c.isolate(4);
  ServerId l = c.elect();
  ASSERT_NE(l, 0u);
  ASSERT_NE(l, 4u);
  EXPECT_FALSE(c.n(4).is_voter(4));
  c.propose(l, 5, "a");
  change(c, l, raft::MembershipChange::kAddLearner, 4);
  c.propose(l, 10, "b");
  c.snapshot(l);
  const wire::RaftMembership with_learner{{1, 2, 3}, {4}};
  EXPECT_EQ(c.n(l).log_start().config, with_learner) << "compaction kept the configuration";
  EXPECT_EQ(c.n(l).membership_index(), c.n(l).log_start().index) << "no configuration entry left in the log";
  EXPECT_EQ(c.h(l).disk->durable_snapshot_meta().config, with_learner);
  EXPECT_EQ(c.h(l).saved->meta.config, with_learner);
  c.heal();
  c.advance(Duration::millis(300));
  EXPECT_EQ(c.h(4).installs, 1u);
  EXPECT_EQ(c.n(4).membership(), with_learner) << "the snapshot brought the configuration";
  EXPECT_TRUE(c.n(4).is_learner(4));
  EXPECT_EQ(c.h(4).disk->durable_snapshot_meta().config, with_learner);
  EXPECT_EQ(c.h(4).state, c.h(l).state);

  change(c, l, raft::MembershipChange::kPromote, 4);
  EXPECT_TRUE(c.n(4).is_voter(4));
  EXPECT_EQ(c.n(4).membership().voters, (std::vector<ServerId>{1, 2, 3, 4}));
  // Four voters: a majority is three. Cut one old follower off; the leader, the other and 4 commit.
  ServerId cut = 0;
  for (ServerId id : {1, 2, 3}) {
    if (id != l && cut == 0) cut = id;
  }
  c.isolate(cut);
  const Index before = c.n(l).commit_index();
  c.propose(l, 2, "c");
  EXPECT_GE(c.n(l).commit_index(), before + 2) << "committed with server 4 in the majority";
  EXPECT_EQ(c.h(4).state, c.h(l).state);
  // Restart 4: its log start (and saved snapshot) carry the configuration.
  c.crash(4);
  c.start(4);
  EXPECT_TRUE(c.n(4).is_voter(4)) << "voter after restart with an empty bootstrap configuration";
  c.heal();
}

TEST(RaftSnapshot, RestartFromASnapshotWhoseConfigurationDiffersFromTheBootstrapVoters) {
  // §4.1 + §5.1: 4 joins and is promoted, an old voter is removed, every member compacts past
  // both configuration entries and the whole cluster restarts with the ORIGINAL bootstrap voters
  // in RaftConfig. The cores must take the configuration from the log start (the snapshot's),
  // not from RaftConfig: the removed server stays out and the three members elect and commit
  // without it.
  Cluster c(4, joiner_tweak);
  ServerId l = c.elect();
  ASSERT_NE(l, 0u);
  c.propose(l, 3, "a");
  change(c, l, raft::MembershipChange::kAddLearner, 4);
  change(c, l, raft::MembershipChange::kPromote, 4);
  ServerId removed = 0;
  for (ServerId id : {1, 2, 3}) {
    if (id != l && removed == 0) removed = id;
  }
  change(c, l, raft::MembershipChange::kRemove, removed);
  c.propose(l, 3, "b");
  std::vector<ServerId> members;
  for (ServerId id : {1, 2, 3, 4}) {
    if (id != removed) members.push_back(id);
  }
  for (ServerId id : members) c.snapshot(id);
  for (ServerId id : members) {
    EXPECT_EQ(c.n(id).log_start().config.voters, members) << "server " << id;
    EXPECT_EQ(c.n(id).membership_index(), c.n(id).log_start().index) << "server " << id;
  }
  const auto want = c.h(l).state;
  for (ServerId id : c.ids) c.crash(id);
  for (ServerId id : members) {
    c.start(id);
    EXPECT_EQ(c.n(id).membership().voters, members) << "server " << id << " took the snapshot's configuration";
    EXPECT_FALSE(c.n(id).is_voter(removed));
  }
  // The removed server stays down: three voters of {members} are a majority of themselves.
  l = c.elect();
  ASSERT_NE(l, 0u);
  ASSERT_NE(l, removed);
  c.propose(l, 1, "c");
  for (ServerId id : members) {
    ASSERT_EQ(c.h(id).state.size(), want.size() + 1) << "server " << id;
  }
}

TEST(RaftSnapshot, AJoinerRestartedFromItsOwnSnapshotTakesItsConfiguration) {
  // A server with no bootstrap voters whose log holds no configuration entry (it joined a cluster
  // bootstrapped from RaftConfig::voters, then compacted) restarts: set_snapshot() with its saved
  // snapshot gives it the configuration (§5.1 lastConfig), instead of refusing a disagreement.
  Cluster c(3);
  ServerId l = c.elect();
  ASSERT_NE(l, 0u);
  c.propose(l, 5, "a");
  ServerId f = l == 3 ? 2 : 3;
  c.snapshot(f);
  EXPECT_EQ(c.h(f).saved->meta.config, (wire::RaftMembership{{1, 2, 3}, {}}));
  c.crash(f);
  c.tweak = [f](ServerId id, RaftConfig& rc) {
    if (id == f) rc.voters.clear();
  };
  c.start(f);  // asserts set_snapshot() accepts the saved snapshot
  EXPECT_EQ(c.n(f).membership().voters, (std::vector<ServerId>{1, 2, 3}));
  EXPECT_TRUE(c.n(f).is_voter(f));
  c.propose(l, 2, "b");
  EXPECT_EQ(c.h(f).state, c.h(l).state);
}
