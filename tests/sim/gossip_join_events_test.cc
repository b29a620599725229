// A member that joins a fleet after user events were fired is not handed those events as new
// (Serf's eventJoinIgnore), on a lossy simulated LAN and across seeds; with replay it is handed
// each of them exactly once; and an event fired after the join reaches every member, the late
// one included, exactly once. Negative control: with Swim's floor check disabled the first test
// fails (n4 is handed both earlier events), and the replay run shows the check can see them.
// The join race: old events that other members gossip to a joiner before its join's answer
// arrives are not delivered either (run_join_race, with its own negative control). And events
// fired right after a join do reach the joiner, whatever push-pulls did to the clocks before.
#include <gtest/gtest.h>

#include <initializer_list>

#include "gossip_helpers.h"
#include "sim_helpers.h"

using base::Duration;

namespace {

int delivered(sim::World& w, sim::NodeId id, const std::string& name) {
  int n = 0;
  for (const auto& e : w.node(id).process_as<gossiptest::GossipNode>().user_events) n += e.name == name;
  return n;
}

// Runs until each of nodes 0..count-1 was handed every event of `names` (or `limit` passes).
bool run_until_all_handed(sim::World& w, sim::NodeId count, std::initializer_list<const char*> names, Duration limit) {
  return w.run_for(
      [&] {
        for (sim::NodeId i = 0; i < count; ++i) {
          for (const char* name : names) {
            if (delivered(w, i, name) == 0) return false;
          }
        }
        return true;
      },
      limit);
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
  ASSERT_TRUE(run_until_all_handed(w, 4, {"before-1", "before-2"}, Duration::seconds(70)))
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
  ASSERT_TRUE(run_until_all_handed(w, late + 1, {"after"}, Duration::seconds(70)))
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

// What run_join_race saw of the late joiner n3.
struct RaceOutcome {
  bool handed_old = false;  // n3 was handed an event below its floor (an event from before it joined)
  bool held = false;        // n3 held events while its join's answer was on its way: the race ran
};

// The race of integration_gossip_join_events_test under load: n3 joins through n0, ignoring the
// fleet's earlier events, and n0's answer is slow to reach it (n0 -> n3 is cut for `answer_delay`
// right after n0 merged n3's request; the answer's stream stalls and then flows). Meanwhile n4
// joins through n0 with replay, is handed the earlier events and gossips them on -- to n3 among
// others, since n0 knew n3 when it answered n4 -- so they reach n3 before its own answer does.
// Checked here whatever the outcome: n4 is handed each earlier event once, and an event fired
// after both joins reaches all five members once. The caller checks what n3 was handed.
RaceOutcome run_join_race(uint64_t seed, Duration answer_delay, bool hold) {
  sim::SimConfig cfg;
  cfg.trace_lines_max = 200;
  cfg.link.delay_max = Duration::millis(5);
  sim::World w(seed, cfg);
  gossiptest::FleetOptions opts;
  opts.replay_nodes = {4};
  opts.swim.test_disable_join_event_hold = !hold;
  gossiptest::Fleet fleet(w, opts);
  fleet.watch();
  fleet.add_nodes(3);
  EXPECT_TRUE(w.run_for([&] { return fleet.converged(); }, Duration::seconds(90))) << "no convergence";
  // Gossip can make the views converge before a member's own join answer arrives: let the answers
  // land, so that the events below are fired by members whose clocks know the fleet's.
  w.run_for(Duration::seconds(2));
  EXPECT_TRUE(fleet.transport(1).send_user_event("before-1", "a").is_ok());
  EXPECT_TRUE(fleet.transport(2).send_user_event("before-2", "b").is_ok());
  EXPECT_TRUE(run_until_all_handed(w, 3, {"before-1", "before-2"}, Duration::seconds(70)))
      << "the earlier events did not spread";
  w.run_for(Duration::seconds(5));  // their gossip is over: only a join brings them now

  fleet.add_nodes(1);  // n3 joins through n0, ignoring the earlier events
  // The step in which n0 merges n3's request also writes its answer; cutting n0 -> n3 right after
  // that step holds the answer on the wire (a stream stalls rather than loses) until the heal.
  EXPECT_TRUE(w.run_for([&] { return fleet.transport(0).swim()->member("n3") != nullptr; }, Duration::seconds(5)));
  const sim::PartitionId cut = w.partition_oneway({0}, {3});
  const uint64_t clock_at_answer = fleet.transport(0).swim()->event_ltime();
  fleet.add_nodes(1);  // n4 joins through n0 with replay; n0's answer names n3
  w.run_for(answer_delay);
  w.heal(cut);
  if (!w.run_for([&] { return fleet.converged(); }, Duration::seconds(90))) {
    fleet.dump(stderr);
    ADD_FAILURE() << "n3 and n4 did not join";
  }
  EXPECT_TRUE(fleet.transport(2).send_user_event("after", "c").is_ok());
  EXPECT_TRUE(run_until_all_handed(w, 5, {"after"}, Duration::seconds(70)))
      << "the event fired after the joins did not reach everyone";
  w.run_for(Duration::seconds(40));  // a push-pull round: late duplicates would arrive by now

  RaceOutcome out;
  const uint64_t floor = fleet.transport(3).swim()->event_min_ltime();
  EXPECT_GT(floor, clock_at_answer) << "n0's answer set n3's floor above every earlier event";
  for (const auto& e : w.node(3).process_as<gossiptest::GossipNode>().user_events) {
    if (e.ltime < floor) out.handed_old = true;
  }
  out.held = fleet.transport(3).swim_counters().user_events_held > 0;
  EXPECT_EQ(delivered(w, 4, "before-1"), 1) << "the replaying joiner";
  EXPECT_EQ(delivered(w, 4, "before-2"), 1) << "the replaying joiner";
  for (sim::NodeId i = 0; i <= 4; ++i) EXPECT_EQ(delivered(w, i, "after"), 1) << "node " << i;
  EXPECT_EQ(fleet.violation, "");
  if (hold) {
    EXPECT_FALSE(out.handed_old) << "n3 was handed an event from before its join";
    EXPECT_EQ(delivered(w, 3, "before-1"), 0);
    EXPECT_EQ(delivered(w, 3, "before-2"), 0);
    EXPECT_GT(fleet.transport(3).swim_counters().user_events_before_join, 0u);
    EXPECT_EQ(fleet.transport(3).swim_counters().user_events_held_dropped, 0u);
  }
  gossiptest::report_failure(w);
  return out;
}

// The answer is 300 ms .. 2.3 s late depending on the seed: from about one gossip round of n4's
// to many (all under the stream stall timeout, so the answer does arrive).
Duration answer_delay(uint64_t seed) { return Duration::millis(300 + static_cast<int64_t>(seed % 21) * 100); }

// Runs run_join_race over the seeds and expects `what` of the outcome in at least half of them
// (unless one seed is replayed).
void expect_in_most_seeds(uint64_t seeds_default, bool hold, bool RaceOutcome::*what, const char* what_name) {
  const auto seeds = sim::test_seeds(seeds_default);
  size_t n = 0;
  for (uint64_t seed : seeds) {
    WEFT_SIM_SEED_SCOPE(seed);
    n += run_join_race(seed, answer_delay(seed), hold).*what;
  }
  if (!sim::replaying_one_seed()) {
    EXPECT_GE(n * 2, seeds.size()) << what_name << " in " << n << " of " << seeds.size() << " seeds";
  }
}

// Regression for integration_gossip_join_events_test's flaky check "the plain joiner never lists
// the early event": events gossiped to a joiner before its join's answer arrives are held until
// the answer sets the floor, then filtered by it (run_join_race's checks, every seed). Also
// expects the race to have run (n3 held events) in most seeds, so that a change to the scenario
// cannot make the test vacuous.
TEST(GossipJoinEvents, OldEventsGossipedBeforeTheJoinAnswerAreNotDelivered) {
  expect_in_most_seeds(200, /*hold=*/true, &RaceOutcome::held, "n3 held events");
}

// Negative control: with the hold disabled (SwimConfig::test_disable_join_event_hold) the same
// runs hand n3 the earlier events in most seeds -- the failure CI saw, and what the test above
// catches (163 of its 200 seeds failed on the code before the hold).
TEST(GossipJoinEvents, NegativeControlWithoutTheHoldTheJoinerIsHandedOldEvents) {
  expect_in_most_seeds(20, /*hold=*/false, &RaceOutcome::handed_old, "n3 was handed old events");
}

// Events fired right after a join reach the joiner: n0..n2 fire "early" and then live for a
// seed-dependent while (push-pull rounds between them), n3 joins through n0 ignoring "early", and
// as soon as n3 has its floor, n1 and n2 each fire an event. Each must reach n3 once. (The floor is
// n0's event clock; a clock that push-pulls moved ahead of the firers' would put a new event
// below it -- integration_gossip_join_events_test's "an event after the join reaches the plain
// joiner", seen failing with the joiner's floor 6 and the new event at Lamport time 5. With the
// clock's old witness rule, t + 1, 73 of these 200 seeds failed.)
void run_event_right_after_join(uint64_t seed) {
  sim::SimConfig cfg;
  cfg.trace_lines_max = 200;
  cfg.link.delay_max = Duration::millis(5);
  sim::World w(seed, cfg);
  gossiptest::Fleet fleet(w, gossiptest::FleetOptions{});
  fleet.watch();
  fleet.add_nodes(3);
  ASSERT_TRUE(w.run_for([&] { return fleet.converged(); }, Duration::seconds(90))) << "no convergence";
  w.run_for(Duration::seconds(2));
  ASSERT_TRUE(fleet.transport(1).send_user_event("early", "a").is_ok());
  // 0 .. 95 s: up to a few push-pull rounds (lan: every 30 s, jittered) among n0..n2.
  w.run_for(Duration::seconds(static_cast<int64_t>(seed % 20) * 5));
  ASSERT_TRUE(run_until_all_handed(w, 3, {"early"}, Duration::seconds(70)))
      << "the early event did not spread";
  fleet.add_nodes(1);  // n3 joins through n0, ignoring "early"
  ASSERT_TRUE(w.run_for([&] { return fleet.transport(3).swim()->event_min_ltime() > 0; }, Duration::seconds(10)))
      << "n3's join was not answered";
  const uint64_t floor = fleet.transport(3).swim()->event_min_ltime();
  ASSERT_TRUE(fleet.transport(1).send_user_event("after-1", "b").is_ok());
  ASSERT_TRUE(fleet.transport(2).send_user_event("after-2", "c").is_ok());
  run_until_all_handed(w, 4, {"after-1", "after-2"}, Duration::seconds(30));
  w.run_for(Duration::seconds(40));  // a push-pull round: late duplicates would arrive by now
  for (const auto& e : w.node(3).process_as<gossiptest::GossipNode>().user_events) {
    EXPECT_GE(e.ltime, floor) << e.name;
  }
  EXPECT_EQ(delivered(w, 3, "early"), 0);
  for (sim::NodeId i = 0; i <= 3; ++i) {
    EXPECT_EQ(delivered(w, i, "after-1"), 1) << "node " << i << " (n3's floor " << floor << ")";
    EXPECT_EQ(delivered(w, i, "after-2"), 1) << "node " << i << " (n3's floor " << floor << ")";
  }
  EXPECT_EQ(fleet.violation, "");
  gossiptest::report_failure(w);
}

TEST(GossipJoinEvents, EventsFiredRightAfterTheJoinReachTheJoiner) {
  for (uint64_t seed : sim::test_seeds(200)) {
    WEFT_SIM_SEED_SCOPE(seed);
    run_event_right_after_join(seed);
  }
}

}  // namespace
