// A member that joins a fleet after user events were fired is not handed those events as new
// (Serf's eventJoinIgnore), on a lossy simulated LAN and across seeds; with replay it is handed
// each of them exactly once; and an event fired after the join reaches every member, the late
// one included, exactly once. Negative control: with Swim's floor check disabled the first test
// fails (n4 is handed both earlier events), and the replay run shows the check can see them.
#include <gtest/gtest.h>

#include "gossip_helpers.h"
#include "sim_helpers.h"

using base::Duration;

namespace {

int delivered(sim::World& w, sim::NodeId id, const std::string& name) {
  int n = 0;
  for (const auto& e : w.node(id).process_as<gossiptest::GossipNode>().user_events) n += e.name == name;
  return n;
}

// n0..n3 converge and n1, n2 fire "before-1", "before-2"; once everyone holds both, n4 starts
// and joins through n0 (replaying or not); then n2 fires "after".
void run_late_join(uint64_t seed, bool replay) {
  sim::SimConfig cfg;
  cfg.trace_lines_max = 200;
  cfg.link.loss_probability = 0.02;
  cfg.link.delay_max = Duration::millis(5);
  sim::World w(seed, cfg);
  gossiptest::FleetOptions opts;
  opts.replay_on_join = replay;
  gossiptest::Fleet fleet(w, opts);
  fleet.watch();
  fleet.add_nodes(4);
  ASSERT_TRUE(w.run_for([&] { return fleet.converged(); }, Duration::seconds(90))) << "no convergence";
  ASSERT_TRUE(fleet.transport(1).send_user_event("before-1", "a").is_ok());
  ASSERT_TRUE(fleet.transport(2).send_user_event("before-2", "b").is_ok());
  ASSERT_TRUE(w.run_for(
      [&] {
        for (sim::NodeId i = 0; i < 4; ++i) {
          if (delivered(w, i, "before-1") == 0 || delivered(w, i, "before-2") == 0) return false;
        }
        return true;
      },
      Duration::seconds(70)))
      << "the earlier events did not spread";

  fleet.add_nodes(1);  // n4 starts now and joins through n0
  const sim::NodeId late = 4;
  if (!w.run_for([&] { return fleet.converged(); }, Duration::seconds(90))) {
    fleet.dump(stderr);
    FAIL() << "n4 did not join";
  }
  // Two push-pull periods (lan: 30 s each, jittered), each of which carries the recent events.
  w.run_for(Duration::seconds(70));
  ASSERT_TRUE(fleet.transport(2).send_user_event("after", "c").is_ok());
  ASSERT_TRUE(w.run_for(
      [&] {
        for (sim::NodeId i = 0; i <= late; ++i) {
          if (delivered(w, i, "after") == 0) return false;
        }
        return true;
      },
      Duration::seconds(70)))
      << "the event fired after the join did not reach everyone";
  w.run_for(Duration::seconds(40));  // late duplicates would arrive by now

  const gossip::SwimCounters& c = fleet.transport(late).swim_counters();
  if (replay) {
    EXPECT_EQ(delivered(w, late, "before-1"), 1);
    EXPECT_EQ(delivered(w, late, "before-2"), 1);
    EXPECT_EQ(c.user_events_before_join, 0u);
  } else {
    EXPECT_EQ(delivered(w, late, "before-1"), 0);
    EXPECT_EQ(delivered(w, late, "before-2"), 0);
    EXPECT_GT(c.user_events_before_join, 0u) << "the join's push-pull carried them and they were dropped";
    for (const auto& e : fleet.transport(late).recent_user_events()) EXPECT_EQ(e.name, "after");
  }
  for (sim::NodeId i = 0; i <= late; ++i) EXPECT_EQ(delivered(w, i, "after"), 1) << "node " << i;
  for (sim::NodeId i = 0; i < late; ++i) {
    EXPECT_EQ(delivered(w, i, "before-1"), 1) << "node " << i;
    EXPECT_EQ(delivered(w, i, "before-2"), 1) << "node " << i;
  }
  EXPECT_EQ(fleet.violation, "");
  gossiptest::report_failure(w);
}

TEST(GossipJoinEvents, LateJoinerIgnoresEarlierEvents) {
  for (uint64_t seed : sim::test_seeds(10)) {
    WEFT_SIM_SEED_SCOPE(seed);
    run_late_join(seed, /*replay=*/false);
  }
}

TEST(GossipJoinEvents, LateJoinerWithReplayGetsEarlierEventsOnce) {
  for (uint64_t seed : sim::test_seeds(10)) {
    WEFT_SIM_SEED_SCOPE(seed);
    run_late_join(seed, /*replay=*/true);
  }
}

}  // namespace
