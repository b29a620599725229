// The SWIM core driven by hand, without sockets: a tiny in-test network delivers each core's
// datagrams and push-pulls to the others at the current virtual time. Proves the state rules
// one at a time: incarnations (generation << 32, only higher alive wins, stale suspicion
// ignored), refutation, the buddy system, probe failure -> suspect -> dead, graceful leave,
// reaping, force-leave, tags and user events, and a join that ignores (or replays) the user
// events fired before it.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>

#include "agent/gossip/swim.h"

using base::Duration;
using base::MonoTime;
using gossip::MemberState;
using gossip::Swim;

namespace {

hal::SockAddr addr(int i) { return hal::SockAddr::ipv4(10, 0, 0, static_cast<uint8_t>(i + 1), 7702); }

struct Fleet {
  MonoTime now;
  std::vector<std::unique_ptr<Swim>> nodes;
  std::set<int> down;  // nodes whose datagrams are dropped both ways
  std::vector<gossip::MemberEvent> events;
  std::map<int, std::vector<gossip::ReceivedUserEvent>> user_events;  // delivered, by node
  std::vector<wire::GossipMessage> sent_by0;  // what node 0 sent, decoded

  explicit Fleet(int n, gossip::SwimConfig c = gossip::profile_config(gossip::Profile::kLan)) {
    for (int i = 0; i < n; ++i) {
      gossip::SwimIdentity id;
      id.name = "n" + std::to_string(i);
      id.advertise = addr(i);
      id.generation = 1;
      nodes.push_back(std::make_unique<Swim>(c, id, 100 + i, now));
    }
  }
  int index_of(const hal::SockAddr& a) {
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (addr(static_cast<int>(i)) == a) return static_cast<int>(i);
    }
    return -1;
  }
  // Delivers every pending effect (repeatedly) at the current time.
  void pump() {
    for (int round = 0; round < 100; ++round) {
      bool any = false;
      for (size_t i = 0; i < nodes.size(); ++i) {
        gossip::Effects fx = nodes[i]->take_effects();
        for (auto& e : fx.member_events) events.push_back(e);
        for (auto& e : fx.user_events) user_events[static_cast<int>(i)].push_back(e);
        for (auto& d : fx.datagrams) {
          any = true;
          if (i == 0) {
            std::vector<wire::GossipMessage> msgs;
            if (wire::decode_packet(base::as_bytes(d.bytes), &msgs).is_ok()) {
              sent_by0.insert(sent_by0.end(), msgs.begin(), msgs.end());
            }
          }
          const int to = index_of(d.to);
          if (to < 0 || down.count(to) || down.count(static_cast<int>(i))) continue;
          nodes[to]->on_datagram(addr(static_cast<int>(i)), base::as_bytes(d.bytes), now);
        }
        for (auto& p : fx.push_pulls) {
          any = true;
          const int to = index_of(p.to);
          if (to < 0 || down.count(to) || down.count(static_cast<int>(i))) {
            nodes[i]->on_push_pull_failed(p.to, now);
            continue;
          }
          auto reply = nodes[to]->on_push_pull(addr(static_cast<int>(i)), base::as_bytes(p.request), now);
          ASSERT_TRUE(reply.is_ok());
          nodes[i]->on_push_pull_reply(p.to, base::as_bytes(*reply), now);
        }
      }
      if (!any) return;
    }
  }
  // Advances time to `until`, ticking every core at each of its deadlines.
  void run(Duration d) {
    const MonoTime until = now + d;
    while (true) {
      MonoTime next = MonoTime::never();
      for (size_t i = 0; i < nodes.size(); ++i) {
        if (!down.count(static_cast<int>(i))) next = std::min(next, nodes[i]->next_deadline());
      }
      if (next > until) break;
      now = std::max(now, next);
      for (size_t i = 0; i < nodes.size(); ++i) {
        if (!down.count(static_cast<int>(i)) && nodes[i]->next_deadline() <= now) nodes[i]->on_tick(now);
      }
      pump();
    }
    now = until;
  }
  void join_all() {
    for (size_t i = 1; i < nodes.size(); ++i) {
      hal::SockAddr a = addr(0);
      ASSERT_TRUE(nodes[i]->join(std::span<const hal::SockAddr>(&a, 1), now, true).is_ok());
    }
    pump();
  }
  MemberState state(int viewer, int of) {
    const gossip::Member* m = nodes[viewer]->member("n" + std::to_string(of));
    return m ? m->state : MemberState::kLeft;
  }
  void deliver(int to, const wire::GossipMessage& m, int from = 1) {
    std::string pkt = wire::encode_packet({m});
    nodes[to]->on_datagram(addr(from), base::as_bytes(pkt), now);
    pump();
  }
};

TEST(Swim, IncarnationStartsAtGenerationShifted) {
  EXPECT_EQ(gossip::initial_incarnation(3), 3ull << 32);
  Fleet f(1);
  EXPECT_EQ(f.nodes[0]->incarnation(), 1ull << 32);
}

// An idle member wakes for its probes, the answers to them and the pings it gets, not for the
// gossip tick (every 200 ms on lan) when it has nothing to send, nor for a reap check of its own:
// most of an idle agent's CPU time is the wake-up itself. Counts node 0's timer wake-ups over
// 10 s of a quiet, converged fleet: about one per probe interval now, 70 with the gossip
// tick and the reap check armed regardless (measured by putting them back).
TEST(Swim, AnIdleMemberWakesOnlyForProbes) {
  Fleet f(4);
  f.join_all();
  f.run(Duration::seconds(60));  // converged, and every broadcast retransmitted to its limit
  for (int j = 0; j < 4; ++j) ASSERT_EQ(f.state(0, j), MemberState::kAlive);
  const MonoTime until = f.now + Duration::seconds(10);
  int wakeups = 0;
  while (true) {
    MonoTime next = MonoTime::never();
    for (auto& n : f.nodes) next = std::min(next, n->next_deadline());
    if (next > until) break;
    f.now = std::max(f.now, next);
    for (size_t i = 0; i < f.nodes.size(); ++i) {
      if (f.nodes[i]->next_deadline() > f.now) continue;
      if (i == 0) ++wakeups;
      f.nodes[i]->on_tick(f.now);
    }
    f.pump();
  }
  EXPECT_GE(wakeups, 5);   // it still probes (lan: every second)
  EXPECT_LE(wakeups, 20);  // but nothing else wakes it
}

TEST(Swim, JoinConvergesAndAliveNeedsAHigherIncarnation) {
  Fleet f(4);
  f.join_all();
  f.run(Duration::seconds(5));
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 4; ++j) EXPECT_EQ(f.state(i, j), MemberState::kAlive) << i << " sees " << j;
  }
  wire::GossipMessage m;
  m.type = wire::GossipType::kAlive;
  m.alive = {1ull << 32, "n2", addr(9), {}};  // same incarnation, other address: ignored
  f.deliver(0, m);
  EXPECT_EQ(f.nodes[0]->member("n2")->addr, addr(2));
  m.alive.incarnation = (1ull << 32) + 1;  // higher: accepted, an update event
  f.deliver(0, m);
  EXPECT_EQ(f.nodes[0]->member("n2")->addr, addr(9));
}

TEST(Swim, SuspicionAboutSelfIsRefutedWithAHigherIncarnation) {
  Fleet f(3);
  f.join_all();
  const uint64_t before = f.nodes[0]->incarnation();
  wire::GossipMessage m;
  m.type = wire::GossipType::kSuspect;
  m.suspect = {before, "n0", "n1"};
  f.deliver(0, m);
  EXPECT_EQ(f.nodes[0]->incarnation(), before + 1);
  EXPECT_EQ(f.nodes[0]->health_score(), 1u);  // Lifeguard: being suspected raises the score
  EXPECT_EQ(f.nodes[0]->counters().refutations, 1u);
  // A stale accusation (older incarnation) does not bump again.
  f.deliver(0, m);
  EXPECT_EQ(f.nodes[0]->incarnation(), before + 1);
  // Peers see the refutation.
  f.run(Duration::seconds(2));
  EXPECT_EQ(f.nodes[1]->member("n0")->incarnation, before + 1);
  EXPECT_EQ(f.state(1, 0), MemberState::kAlive);
}

TEST(Swim, StaleSuspicionIsIgnoredAndSuspectRecoversOnRefutation) {
  Fleet f(3);
  f.join_all();
  f.run(Duration::seconds(1));
  const uint64_t inc2 = f.nodes[0]->member("n2")->incarnation;
  wire::GossipMessage s;
  s.type = wire::GossipType::kSuspect;
  s.suspect = {inc2 - 1, "n2", "n1"};
  f.down = {2};  // n2 hears nothing, so it cannot refute yet
  f.deliver(0, s);
  EXPECT_EQ(f.state(0, 2), MemberState::kAlive);  // older incarnation: ignored
  s.suspect.incarnation = inc2;
  f.deliver(0, s);
  EXPECT_EQ(f.state(0, 2), MemberState::kSuspect);
  wire::GossipMessage a;
  a.type = wire::GossipType::kAlive;
  a.alive = {inc2 + 1, "n2", addr(2), {}};
  f.deliver(0, a);
  EXPECT_EQ(f.state(0, 2), MemberState::kAlive);
}

TEST(Swim, SilentMemberIsSuspectedThenDeclaredDead) {
  Fleet f(5);
  f.join_all();
  f.run(Duration::seconds(3));
  f.down = {4};
  f.run(Duration::seconds(60));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(f.state(i, 4), MemberState::kDead) << i;
  // The probers got nacks from their indirect probers, so they did not blame themselves much.
  EXPECT_GT(f.nodes[0]->counters().nacks_received + f.nodes[1]->counters().nacks_received, 0u);
  bool saw_suspect = false, saw_fail = false;
  for (const auto& e : f.events) {
    saw_suspect |= e.kind == gossip::MemberEventKind::kSuspect && e.member.name == "n4";
    saw_fail |= e.kind == gossip::MemberEventKind::kFail && e.member.name == "n4";
  }
  EXPECT_TRUE(saw_suspect);
  EXPECT_TRUE(saw_fail);
}

TEST(Swim, PingToASuspectCarriesTheBuddySuspicion) {
  Fleet f(2);
  f.join_all();
  f.run(Duration::seconds(1));
  const uint64_t inc1 = f.nodes[0]->member("n1")->incarnation;
  f.down = {1};
  wire::GossipMessage s;
  s.type = wire::GossipType::kSuspect;
  s.suspect = {inc1, "n1", "someone"};
  std::string pkt = wire::encode_packet({s});
  f.nodes[0]->on_datagram(addr(1), base::as_bytes(pkt), f.now);
  f.sent_by0.clear();
  f.run(Duration::seconds(2));
  bool buddy = false;
  for (const auto& m : f.sent_by0) {
    if (m.type == wire::GossipType::kPing && m.ping.target == "n1" && m.ping.has_buddy) {
      buddy = m.ping.buddy_incarnation == inc1 && m.ping.buddy_from == "n0";
    }
  }
  EXPECT_TRUE(buddy);
  // Delivered, the buddy suspicion makes n1 refute.
  f.down.clear();
  f.run(Duration::seconds(3));
  EXPECT_GT(f.nodes[1]->incarnation(), inc1);
  EXPECT_EQ(f.state(0, 1), MemberState::kAlive);
}

TEST(Swim, GracefulLeaveIsSeenAsLeftAndReaped) {
  gossip::SwimConfig c = gossip::profile_config(gossip::Profile::kLan);
  c.left_reap_timeout = Duration::seconds(10);
  Fleet f(3, c);
  f.join_all();
  f.run(Duration::seconds(2));
  ASSERT_TRUE(f.nodes[2]->leave(f.now).is_ok());
  EXPECT_FALSE(f.nodes[2]->leave(f.now).is_ok());
  f.run(Duration::seconds(3));
  EXPECT_TRUE(f.nodes[2]->leave_done());
  EXPECT_EQ(f.state(0, 2), MemberState::kLeft);
  EXPECT_EQ(f.state(1, 2), MemberState::kLeft);
  f.run(Duration::seconds(12));
  EXPECT_EQ(f.nodes[0]->member("n2"), nullptr);  // reaped
  bool reap = false;
  for (const auto& e : f.events) reap |= e.kind == gossip::MemberEventKind::kReap && e.member.name == "n2";
  EXPECT_TRUE(reap);
}

TEST(Swim, ForceLeaveOnlyForFailedMembers) {
  Fleet f(3);
  f.join_all();
  EXPECT_EQ(f.nodes[0]->force_leave("n1", f.now).code(), base::Code::kFailedPrecondition);
  EXPECT_EQ(f.nodes[0]->force_leave("nope", f.now).code(), base::Code::kNotFound);
  wire::GossipMessage d;
  d.type = wire::GossipType::kDead;
  d.dead = {f.nodes[0]->member("n2")->incarnation, "n2", "n1"};
  f.down = {2};
  f.deliver(0, d);
  EXPECT_EQ(f.state(0, 2), MemberState::kDead);
  ASSERT_TRUE(f.nodes[0]->force_leave("n2", f.now).is_ok());
  EXPECT_EQ(f.state(0, 2), MemberState::kLeft);
}

TEST(Swim, TagsAndUserEventsSpread) {
  Fleet f(4);
  f.join_all();
  f.run(Duration::seconds(1));
  const uint64_t inc = f.nodes[1]->incarnation();
  ASSERT_TRUE(f.nodes[1]->set_tags({{"role", "foundation"}}, f.now).is_ok());
  EXPECT_EQ(f.nodes[1]->incarnation(), inc + 1);
  EXPECT_FALSE(f.nodes[1]->set_tags({{"k", std::string(600, 'x')}}, f.now).is_ok());
  ASSERT_TRUE(f.nodes[2]->send_user_event("deploy", "v1", f.now).is_ok());
  EXPECT_FALSE(f.nodes[2]->send_user_event("", "v1", f.now).is_ok());
  EXPECT_FALSE(f.nodes[2]->send_user_event("x", std::string(600, 'p'), f.now).is_ok());
  f.run(Duration::seconds(40));  // gossip, then a push-pull round for stragglers
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(f.nodes[i]->member("n1")->tags.at("role"), "foundation") << i;
    ASSERT_EQ(f.nodes[i]->recent_events().size(), 1u) << i;
    EXPECT_EQ(f.nodes[i]->recent_events()[0].name, "deploy");
    EXPECT_GE(f.nodes[i]->event_ltime(), 1u);
  }
}

// How many times node `i` was handed a user event called `name`.
int delivered(Fleet& f, int i, const std::string& name) {
  int n = 0;
  for (const auto& e : f.user_events[i]) n += e.name == name;
  return n;
}

// A fleet of n0..n2 fires two events; then n3 joins through n0 with `ignore_old_events`, and
// after it n1 fires one more. Returns the fleet for the checks.
std::unique_ptr<Fleet> late_joiner(bool ignore_old_events, bool join_address_down_at_first) {
  auto f = std::make_unique<Fleet>(4);
  for (int i = 1; i <= 2; ++i) {
    hal::SockAddr a = addr(0);
    EXPECT_TRUE(f->nodes[i]->join(std::span<const hal::SockAddr>(&a, 1), f->now, true).is_ok());
  }
  f->pump();
  f->run(Duration::seconds(1));
  EXPECT_TRUE(f->nodes[1]->send_user_event("before-a", "1", f->now).is_ok());
  EXPECT_TRUE(f->nodes[2]->send_user_event("before-b", "2", f->now).is_ok());
  f->run(Duration::seconds(40));  // gossip, then a push-pull round: n0..n2 all hold both
  for (int i = 0; i <= 2; ++i) EXPECT_EQ(f->nodes[i]->recent_events().size(), 2u) << i;
  if (join_address_down_at_first) f->down.insert(0);
  hal::SockAddr a = addr(0);
  EXPECT_TRUE(f->nodes[3]->join(std::span<const hal::SockAddr>(&a, 1), f->now, ignore_old_events).is_ok());
  f->pump();
  if (join_address_down_at_first) {
    EXPECT_EQ(f->nodes[3]->member_count(), 1u) << "the join address was down: no join yet";
    f->run(Duration::millis(1500));
    f->down.erase(0);  // retry-join (1 s backoff, doubling) gets through from here on
  }
  f->run(Duration::seconds(70));  // the join, then at least two push-pull rounds
  EXPECT_EQ(f->nodes[3]->member_count(), 4u) << "n3 joined";
  EXPECT_TRUE(f->nodes[1]->send_user_event("after", "3", f->now).is_ok());
  f->run(Duration::seconds(70));
  return f;
}

// The latest Lamport time of the events fired before n3 joined, as n0 was handed them.
uint64_t before_ltime_max(Fleet& f) {
  uint64_t t = 0;
  for (const auto& e : f.user_events[0]) {
    if (e.name.starts_with("before-")) t = std::max(t, e.ltime);
  }
  return t;
}

// Serf's eventJoinIgnore: a member that joins after events were fired is not handed them (not by
// the join's push-pull, nor by later push-pulls or gossip), while an event fired after the join
// reaches it, and every other member, exactly once. Negative control: with the floor check in
// handle_user_event disabled, n3 is handed "before-a" and "before-b" and this test fails.
TEST(Swim, JoinIgnoresTheEventsFiredBeforeIt) {
  auto f = late_joiner(/*ignore_old_events=*/true, /*join_address_down_at_first=*/false);
  EXPECT_EQ(delivered(*f, 3, "before-a"), 0);
  EXPECT_EQ(delivered(*f, 3, "before-b"), 0);
  EXPECT_GT(f->nodes[3]->counters().user_events_before_join, 0u) << "the join's push-pull carried them";
  EXPECT_GT(before_ltime_max(*f), 0u);
  EXPECT_GT(f->nodes[3]->event_min_ltime(), before_ltime_max(*f)) << "the floor is above them";
  for (const auto& e : f->nodes[3]->recent_events()) EXPECT_EQ(e.name, "after") << "listed: " << e.name;
  for (int i = 0; i < 4; ++i) EXPECT_EQ(delivered(*f, i, "after"), 1) << "node " << i;
  for (int i = 0; i <= 2; ++i) {
    EXPECT_EQ(delivered(*f, i, "before-a"), 1) << "node " << i;
    EXPECT_EQ(f->nodes[i]->counters().user_events_before_join, 0u) << "node " << i;
  }
}

// `agentctl join -replay`: the same late join delivers the earlier events, each exactly once.
TEST(Swim, JoinWithReplayDeliversTheEventsFiredBeforeIt) {
  auto f = late_joiner(/*ignore_old_events=*/false, /*join_address_down_at_first=*/false);
  EXPECT_EQ(delivered(*f, 3, "before-a"), 1);
  EXPECT_EQ(delivered(*f, 3, "before-b"), 1);
  EXPECT_EQ(delivered(*f, 3, "after"), 1);
  EXPECT_EQ(f->nodes[3]->counters().user_events_before_join, 0u);
  EXPECT_EQ(f->nodes[3]->event_min_ltime(), 0u);
}

// Retry-join: when the join address is down at first, the retry that gets through is the join,
// and it ignores the earlier events just the same.
TEST(Swim, RetryJoinAfterAFailedJoinIgnoresTheEventsFiredBeforeIt) {
  auto f = late_joiner(/*ignore_old_events=*/true, /*join_address_down_at_first=*/true);
  EXPECT_EQ(delivered(*f, 3, "before-a"), 0);
  EXPECT_EQ(delivered(*f, 3, "before-b"), 0);
  EXPECT_EQ(delivered(*f, 3, "after"), 1);
  EXPECT_GT(before_ltime_max(*f), 0u);
  EXPECT_GT(f->nodes[3]->event_min_ltime(), before_ltime_max(*f)) << "the floor is above them";
}

// n0..n2 hold "before-a"; n3 joins through n0 ignoring it, and the test holds n0's answer back
// (the join address already knows n3, so others may talk to n3 meanwhile). Returns the answer.
std::string join_with_answer_held_back(Fleet& f) {
  for (int i = 1; i <= 2; ++i) {
    hal::SockAddr a = addr(0);
    EXPECT_TRUE(f.nodes[i]->join(std::span<const hal::SockAddr>(&a, 1), f.now, true).is_ok());
  }
  f.pump();
  f.run(Duration::seconds(1));
  EXPECT_TRUE(f.nodes[1]->send_user_event("before-a", "1", f.now).is_ok());
  f.run(Duration::seconds(40));
  hal::SockAddr a = addr(0);
  EXPECT_TRUE(f.nodes[3]->join(std::span<const hal::SockAddr>(&a, 1), f.now, /*ignore_old_events=*/true).is_ok());
  gossip::Effects fx = f.nodes[3]->take_effects();
  EXPECT_EQ(fx.push_pulls.size(), 1u);
  if (fx.push_pulls.empty()) return "";
  auto answer = f.nodes[0]->on_push_pull(addr(3), base::as_bytes(fx.push_pulls[0].request), f.now);
  EXPECT_TRUE(answer.is_ok());
  return answer.is_ok() ? *answer : "";
}

wire::GossipMessage user_event(uint64_t ltime, std::string name) {
  wire::GossipMessage m;
  m.type = wire::GossipType::kUserEvent;
  m.event = wire::UserEvent{ltime, std::move(name), "x"};
  return m;
}

// The race of integration_gossip_join_events_test: events reach a joiner before its join's
// answer. They are held until the answer sets the floor, then the old one is dropped as before the
// join and the new one (above the answering member's clock) delivered once.
TEST(Swim, EventsBeforeTheJoinAnswerWaitForItsFloor) {
  Fleet f(4);
  const std::string answer = join_with_answer_held_back(f);
  const uint64_t old_ltime = f.nodes[1]->recent_events().back().ltime;
  const uint64_t new_ltime = f.nodes[0]->event_ltime() + 3;
  f.deliver(3, user_event(old_ltime, "before-a"), 1);
  f.deliver(3, user_event(new_ltime, "during"), 2);
  f.deliver(3, user_event(old_ltime, "before-a"), 2);  // a second copy, from someone else
  EXPECT_EQ(delivered(f, 3, "before-a"), 0);
  EXPECT_EQ(delivered(f, 3, "during"), 0) << "held while the floor is unknown";
  EXPECT_EQ(f.nodes[3]->counters().user_events_held, 2u);
  f.nodes[3]->on_push_pull_reply(addr(0), base::as_bytes(answer), f.now);
  f.pump();
  EXPECT_GT(f.nodes[3]->event_min_ltime(), old_ltime);
  EXPECT_EQ(delivered(f, 3, "before-a"), 0);
  EXPECT_EQ(delivered(f, 3, "during"), 1);
  EXPECT_GE(f.nodes[3]->counters().user_events_before_join, 2u) << "the held copy and the answer's";
  f.deliver(3, user_event(new_ltime, "during"), 1);
  EXPECT_EQ(delivered(f, 3, "during"), 1) << "remembered as seen once released";
}

// A join whose exchange fails sets no floor: what was held is delivered then, as it would have
// been without the join (retry-join's first answer sets the floor later, for later events).
TEST(Swim, EventsHeldForAJoinThatFailsAreDelivered) {
  Fleet f(4);
  (void)join_with_answer_held_back(f);
  f.deliver(3, user_event(f.nodes[0]->event_ltime() + 3, "during"), 1);
  EXPECT_EQ(delivered(f, 3, "during"), 0);
  f.nodes[3]->on_push_pull_failed(addr(0), f.now);
  f.pump();
  EXPECT_EQ(delivered(f, 3, "during"), 1);
  EXPECT_EQ(f.nodes[3]->event_min_ltime(), 0u);
}

// The hold is bounded: past join_held_events_max the lowest Lamport time goes first.
TEST(Swim, HeldEventsAreBoundedAndKeepTheNewest) {
  gossip::SwimConfig c = gossip::profile_config(gossip::Profile::kLan);
  c.join_held_events_max = 2;
  Fleet f(4, c);
  const std::string answer = join_with_answer_held_back(f);
  const uint64_t t = f.nodes[0]->event_ltime() + 3;
  f.deliver(3, user_event(t + 1, "e1"), 1);
  f.deliver(3, user_event(t, "e0"), 1);
  f.deliver(3, user_event(t + 2, "e2"), 1);
  EXPECT_EQ(f.nodes[3]->counters().user_events_held_dropped, 1u);
  f.nodes[3]->on_push_pull_reply(addr(0), base::as_bytes(answer), f.now);
  f.pump();
  EXPECT_EQ(delivered(f, 3, "e0"), 0);
  EXPECT_EQ(delivered(f, 3, "e1"), 1);
  EXPECT_EQ(delivered(f, 3, "e2"), 1);
}

TEST(Swim, MalformedDatagramsAreCountedAndChangeNothing) {
  Fleet f(2);
  f.join_all();
  auto before = f.nodes[0]->members();
  const char junk[] = "\x01\x05garbage";
  f.nodes[0]->on_datagram(addr(1), base::as_bytes(std::string_view(junk, sizeof junk - 1)), f.now);
  EXPECT_EQ(f.nodes[0]->counters().decode_errors, 1u);
  EXPECT_EQ(f.nodes[0]->members(), before);
  EXPECT_FALSE(f.nodes[0]->on_push_pull(addr(1), base::as_bytes(std::string_view("xx")), f.now).is_ok());
}

// Regression (tests/bench/RESULTS.md): a relay's nack must reach the requester before the
// requester's probe ends, else healthy members blame their own health while a peer is hung.
TEST(Swim, RelayNacksBeforeTheRequesterGivesUp) {
  Fleet f(3);
  f.join_all();
  f.down.insert(2);
  f.sent_by0.clear();
  wire::GossipMessage req;
  req.type = wire::GossipType::kIndirectPing;
  req.indirect.seq = 77;
  req.indirect.target = "n2";
  req.indirect.target_addr = addr(2);
  req.indirect.source = "n1";
  req.indirect.source_addr = addr(1);
  req.indirect.want_nack = true;
  const Duration timeout = f.nodes[0]->config().probe_timeout;
  f.deliver(0, req, 1);
  auto nacked = [&] {
    for (const auto& m : f.sent_by0) {
      if (m.type == wire::GossipType::kNack && m.nack.seq == 77) return true;
    }
    return false;
  };
  f.run(timeout * 7 / 10);
  EXPECT_FALSE(nacked()) << "nack before the target had a fair chance to answer";
  f.run(timeout * 2 / 10);
  EXPECT_TRUE(nacked()) << "no nack within 90% of the probe timeout";
}

TEST(Swim, HealthyMembersKeepTheirHealthWhileOnePeerIsHung) {
  Fleet f(6);
  f.join_all();
  f.run(Duration::seconds(10));
  f.down.insert(5);
  for (int i = 0; i < 60; ++i) {
    f.run(Duration::millis(500));
    for (int n = 0; n < 5; ++n) ASSERT_EQ(f.nodes[n]->health_score(), 0u) << "n" << n << " at step " << i;
  }
}

}  // namespace
