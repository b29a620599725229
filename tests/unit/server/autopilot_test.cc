// server::autopilot_next decides one membership change at a time from gossip and the
// configuration: each rule of autopilot.h, its guard, and the order between rules.
#include "agent/server/autopilot.h"

#include <gtest/gtest.h>

using base::Duration;
using base::MonoTime;
using raft::MembershipChange;
using server::AutopilotInput;
using server::AutopilotServer;
using server::autopilot_next;

namespace {

MonoTime at(int64_t s) { return MonoTime::from_ns(s * 1'000'000'000); }

config::AutopilotSettings settings() {
  config::AutopilotSettings s;
  s.server_stabilization_time = Duration::seconds(10);
  s.dead_server_grace = Duration::seconds(30);
  return s;
}

// Leader 1 of voters {1, 2, 3}, all alive since t=0; now t=100.
AutopilotInput three() {
  AutopilotInput in;
  in.now = at(100);
  in.self = 1;
  in.config.voters = {1, 2, 3};
  for (raft::ServerId id : {1, 2, 3}) in.servers.push_back(AutopilotServer{id, true, false, at(0)});
  return in;
}

AutopilotServer& gossip_of(AutopilotInput& in, raft::ServerId id) {
  for (auto& s : in.servers) {
    if (s.id == id) return s;
  }
  in.servers.push_back(AutopilotServer{id, false, false, at(0)});
  return in.servers.back();
}

}  // namespace

TEST(Autopilot, AHealthyClusterNeedsNothing) { EXPECT_FALSE(autopilot_next(three(), settings()).has_value()); }

TEST(Autopilot, ANewFoundationJoinsAsALearnerThenIsPromotedOnceStable) {
  AutopilotInput in = three();
  gossip_of(in, 4) = AutopilotServer{4, true, false, at(95)};
  auto d = autopilot_next(in, settings());
  ASSERT_TRUE(d);
  EXPECT_EQ(d->change, MembershipChange::kAddLearner);
  EXPECT_EQ(d->id, 4u);
  // A learner now, since t=96: not before t=106.
  in.config.learners = {4};
  in.learner_since = {{4, at(96)}};
  EXPECT_FALSE(autopilot_next(in, settings()).has_value()) << "not stable yet";
  in.now = at(106);
  d = autopilot_next(in, settings());
  ASSERT_TRUE(d);
  EXPECT_EQ(d->change, MembershipChange::kPromote);
  EXPECT_EQ(d->id, 4u);
  // A learner that flapped (alive again since t=104) waits from then.
  gossip_of(in, 4).status_since = at(104);
  EXPECT_FALSE(autopilot_next(in, settings()).has_value());
  // A dead learner is not promoted.
  in.now = at(120);
  gossip_of(in, 4).alive = false;
  EXPECT_FALSE(autopilot_next(in, settings()).has_value());
}

TEST(Autopilot, OneChangeAtATime) {
  AutopilotInput in = three();
  gossip_of(in, 4) = AutopilotServer{4, true, false, at(0)};
  in.change_pending = true;
  EXPECT_FALSE(autopilot_next(in, settings()).has_value());
}

TEST(Autopilot, ADeadVoterIsRemovedAfterTheGraceWhileTheLiveVotersAreAMajority) {
  AutopilotInput in = three();
  gossip_of(in, 3) = AutopilotServer{3, false, false, at(80)};  // failed at t=80
  EXPECT_FALSE(autopilot_next(in, settings()).has_value()) << "20 s < the 30 s grace";
  in.now = at(110);
  auto d = autopilot_next(in, settings());
  ASSERT_TRUE(d);
  EXPECT_EQ(d->change, MembershipChange::kRemove);
  EXPECT_EQ(d->id, 3u);
  // Two of three dead: the live voters (the leader) are no majority; nothing is removed.
  gossip_of(in, 2) = AutopilotServer{2, false, false, at(0)};
  EXPECT_FALSE(autopilot_next(in, settings()).has_value());
  // cleanup_dead_servers off: never.
  gossip_of(in, 2).alive = true;
  config::AutopilotSettings off = settings();
  off.cleanup_dead_servers = false;
  EXPECT_FALSE(autopilot_next(in, off).has_value());
}

TEST(Autopilot, ALeftServerIsRemovedAtOnceButNeverTheLastVoterOrTheLeader) {
  AutopilotInput in = three();
  gossip_of(in, 2) = AutopilotServer{2, false, true, at(99)};
  config::AutopilotSettings off = settings();
  off.cleanup_dead_servers = false;  // a graceful leave does not need the cleanup
  auto d = autopilot_next(in, off);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->change, MembershipChange::kRemove);
  EXPECT_EQ(d->id, 2u);
  // The leader itself reported left (a stale entry) is not removed by itself.
  AutopilotInput solo;
  solo.now = at(100);
  solo.self = 1;
  solo.config.voters = {1};
  solo.servers = {AutopilotServer{1, false, true, at(0)}};
  EXPECT_FALSE(autopilot_next(solo, settings()).has_value());
  // A dead learner goes after the grace too.
  AutopilotInput l = three();
  l.config.learners = {5};
  gossip_of(l, 5) = AutopilotServer{5, false, false, at(10)};
  d = autopilot_next(l, settings());
  ASSERT_TRUE(d);
  EXPECT_EQ(d->change, MembershipChange::kRemove);
  EXPECT_EQ(d->id, 5u);
}

TEST(Autopilot, RemovalsComeBeforeAdditionsAndServersUnknownToGossipStay) {
  AutopilotInput in = three();
  gossip_of(in, 4) = AutopilotServer{4, true, false, at(0)};
  gossip_of(in, 3) = AutopilotServer{3, false, true, at(99)};
  auto d = autopilot_next(in, settings());
  ASSERT_TRUE(d);
  EXPECT_EQ(d->change, MembershipChange::kRemove);
  EXPECT_EQ(d->id, 3u);
  // A voter gossip does not know about (not yet heard of after a restart) is kept.
  AutopilotInput u = three();
  u.servers.erase(u.servers.begin() + 2);
  EXPECT_FALSE(autopilot_next(u, settings()).has_value());
}

TEST(Autopilot, PromotionStopsAtTheVoterLimit) {
  AutopilotInput in;
  in.now = at(100);
  in.self = 1;
  for (raft::ServerId id = 1; id <= raft::kVotersMax; ++id) {
    in.config.voters.push_back(id);
    in.servers.push_back(AutopilotServer{id, true, false, at(0)});
  }
  in.config.learners = {50};
  in.servers.push_back(AutopilotServer{50, true, false, at(0)});
  EXPECT_FALSE(autopilot_next(in, settings()).has_value());
}

TEST(Autopilot, ARemovedServerIsNotAddedBackUntilItsGossipStatusChanges) {
  // Killed a moment ago and removed by an operator, it still looks alive in gossip: not re-added.
  AutopilotInput in = three();
  gossip_of(in, 4) = AutopilotServer{4, true, false, at(50)};
  in.removed_at = {{4, at(90)}};
  EXPECT_FALSE(autopilot_next(in, settings()).has_value());
  // It failed and came back (a restart): added again.
  gossip_of(in, 4).status_since = at(95);
  auto d = autopilot_next(in, settings());
  ASSERT_TRUE(d);
  EXPECT_EQ(d->change, MembershipChange::kAddLearner);
  EXPECT_EQ(d->id, 4u);
}
