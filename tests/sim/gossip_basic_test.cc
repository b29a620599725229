// Membership basics on a quiet simulated LAN: a fleet joined through one member converges, a
// user event reaches every member exactly once, a graceful leave is seen as "left" (not failed),
// tags spread, and the same seed replays to the same trace.
#include <gtest/gtest.h>

#include "gossip_helpers.h"
#include "sim_helpers.h"

using base::Duration;
using gossip::MemberState;

namespace {

TEST(GossipBasic, FleetConvergesEventsSpreadLeaveIsSeen) {
  for (uint64_t seed : sim::test_seeds(20)) {
    WEFT_SIM_SEED_SCOPE(seed);
    sim::SimConfig cfg;
    cfg.trace_lines_max = 200;
    sim::World w(seed, cfg);
    gossiptest::Fleet fleet(w, {});
    fleet.watch();
    fleet.add_nodes(6);
    if (!w.run_for([&] { return fleet.converged(); }, Duration::seconds(90))) {
      fleet.dump(stderr);
      FAIL() << "no convergence";
    }
    const double t_conv = static_cast<double>(w.now().ns()) / 1e9;

    // A user event from n2 reaches everyone once.
    // Gossip alone reaches every member with high probability (SWIM 4.1); push-pull, which
    // carries recent events, makes it certain within two push-pull periods.
    ASSERT_TRUE(fleet.transport(2).send_user_event("deploy", "v42").is_ok());
    auto seen_by_all = [&] {
      for (sim::NodeId i = 0; i < 6; ++i) {
        bool seen = false;
        for (const auto& e : fleet.transport(i).recent_user_events()) seen |= e.name == "deploy";
        if (!seen) return false;
      }
      return true;
    };
    EXPECT_TRUE(w.run_for(seen_by_all, Duration::seconds(70)));
    w.run_for(Duration::seconds(5));
    for (sim::NodeId i = 0; i < 6; ++i) {
      int seen = 0;
      for (const auto& e : fleet.transport(i).recent_user_events()) seen += e.name == "deploy" && e.payload == "v42";
      EXPECT_EQ(seen, 1) << "node " << i;
      if (seen != 1) fleet.dump(stderr);
    }
    // Tags change at run time and spread.
    ASSERT_TRUE(fleet.transport(3).set_tags({{"role", "director"}}).is_ok());
    ASSERT_TRUE(w.run_for(
        [&] {
          for (sim::NodeId i = 0; i < 6; ++i) {
            const gossip::Member* m = fleet.transport(i).swim()->member("n3");
            if (m == nullptr || m->tags.at("role") != "director") return false;
          }
          return true;
        },
        Duration::seconds(70)));
    // Graceful leave: n5 is seen as left, never failed.
    bool left_done = false;
    ASSERT_TRUE(fleet.transport(5).leave(Duration::seconds(5), [&](base::Status st) { left_done = st.is_ok(); }).is_ok());
    ASSERT_TRUE(w.run_for(
        [&] {
          for (sim::NodeId i = 0; i < 5; ++i) {
            const gossip::Member* m = fleet.transport(i).swim()->member("n5");
            if (m == nullptr || m->state != MemberState::kLeft) return false;
          }
          return true;
        },
        Duration::seconds(10)))
        << "leave not seen";
    w.run_for(Duration::seconds(5));
    EXPECT_TRUE(left_done);
    for (sim::NodeId i = 0; i < 5; ++i) {
      for (const auto& e : w.node(i).process_as<gossiptest::GossipNode>().events) {
        EXPECT_FALSE(e.kind == gossip::MemberEventKind::kFail) << "node " << i << " saw " << e.member.name << " fail";
      }
    }
    EXPECT_EQ(fleet.violation, "");
    if (seed == 1) printf("6 members converged at t=%.2f s (sim)\n", t_conv);
    gossiptest::report_failure(w);
  }
}

// A leave with half the fleet just crashed: of four members two are crashed and still only
// suspect, so the leave notice's retransmit budget (local profile: 2 sends) can go entirely to
// them. The one live survivor must still hear "left" -- found by the agent's membership test,
// where the Raft leader took the suspicion timeout to mark a leaving server failed.
TEST(GossipBasic, LeaveReachesTheLiveMemberWhenOthersAreSuspect) {
  int told_suspects_only = 0;
  for (uint64_t seed : sim::test_seeds(40)) {
    WEFT_SIM_SEED_SCOPE(seed);
    sim::World w(seed, sim::SimConfig{});
    gossiptest::FleetOptions o;
    o.swim = gossip::profile_config(gossip::Profile::kLocal);
    gossiptest::Fleet fleet(w, o);
    fleet.watch();
    fleet.add_nodes(4);
    ASSERT_TRUE(w.run_for([&] { return fleet.converged(); }, Duration::seconds(60)));
    w.crash(0);
    w.crash(1);
    // Wait until the leaver sees both crashed members suspect (not yet dead).
    auto suspect = [&](sim::NodeId at, const char* name) {
      const gossip::Member* m = fleet.transport(at).swim()->member(name);
      return m != nullptr && m->state == MemberState::kSuspect;
    };
    if (!w.run_for([&] { return suspect(3, "n0") && suspect(3, "n1"); }, Duration::seconds(30))) continue;
    bool left_done = false;
    ASSERT_TRUE(fleet.transport(3).leave(Duration::seconds(10), [&](base::Status st) { left_done = st.is_ok(); }).is_ok());
    ASSERT_TRUE(w.run_for(
        [&] {
          const gossip::Member* m = fleet.transport(2).swim()->member("n3");
          return m != nullptr && m->state == MemberState::kLeft;
        },
        Duration::seconds(5)))
        << "the live member did not hear the leave within 5 s";
    ASSERT_TRUE(w.run_for([&] { return left_done; }, Duration::seconds(10)));
    told_suspects_only += fleet.transport(3).swim()->counters().leave_notices_requeued > 0;
    for (const auto& e : w.node(2).process_as<gossiptest::GossipNode>().events) {
      EXPECT_FALSE(e.kind == gossip::MemberEventKind::kFail && e.member.name == "n3") << "n2 saw the leaver fail";
    }
  }
  printf("leave with two of four members suspect: notice re-sent after going only to suspects on %d seeds\n",
         told_suspects_only);
}

uint64_t replay_hash(uint64_t seed) {
  sim::SimConfig cfg;
  cfg.link.loss_probability = 0.05;
  cfg.link.delay_max = Duration::millis(5);
  sim::World w(seed, cfg);
  gossiptest::Fleet fleet(w, {});
  fleet.add_nodes(5);
  w.after(Duration::seconds(5), [&] { w.crash(2); });
  w.after(Duration::seconds(15), [&] { w.restart(2); });
  w.run_for(Duration::seconds(30));
  return w.trace_hash();
}

TEST(GossipBasic, SameSeedReplaysIdentically) {
  for (uint64_t seed : sim::test_seeds(3)) {
    WEFT_SIM_SEED_SCOPE(seed);
    EXPECT_EQ(replay_hash(seed), replay_hash(seed));
    EXPECT_NE(replay_hash(seed), replay_hash(seed + 1000));
  }
}

}  // namespace
