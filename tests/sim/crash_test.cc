// Crash and restart: a crashed node's traffic stops and its peers' connections are reset; a
// restarted node is a fresh process on the same identity with only its durable disk.
#include <gtest/gtest.h>

#include "sim_helpers.h"

using base::Duration;

TEST(Crash, StopsTrafficResetsConnectionsAndRestartKeepsOnlyDurableDisk) {
  for (uint64_t seed : sim::test_seeds(5)) {
    WEFT_SIM_SEED_SCOPE(seed);
    simtest::PingPongStats stats;
    sim::World w(seed);
    for (int i = 0; i < 3; ++i) w.add_node("n" + std::to_string(i), simtest::ping_pong(&stats));
    w.run_for(Duration::seconds(2));
    ASSERT_GT(stats.pongs_received, 0u);
    ASSERT_GT(stats.echoes_ok, 0u);

    // A long-lived connection from node 1 to node 2's echo port, left open (no FIN).
    hal::Net& n1 = *w.node(1).env().net;
    auto c = n1.connect(w.node(2).address(simtest::kEchoPort));
    ASSERT_TRUE(w.run_for([&] { return n1.connect_result(*c).is_ok(); }, Duration::seconds(1)));

    const uint64_t incarnation = w.node(2).incarnation();
    w.crash(2);
    EXPECT_FALSE(w.node(2).up());
    // The peer's connection is reset (not closed gracefully, not left hanging).
    ASSERT_TRUE(w.run_for([&] { return n1.connect_result(*c).code() != base::Code::kOk; }, Duration::seconds(1)));
    EXPECT_EQ(n1.connect_result(*c).code(), base::Code::kIo);
    n1.close(*c);

    // Nothing reaches node 2 while it is down; what is sent to it is dropped as kCrash.
    const uint64_t crash_drops = w.stats().dropped(sim::DropReason::kCrash);
    w.run_for(Duration::seconds(2));
    EXPECT_GT(w.stats().dropped(sim::DropReason::kCrash), crash_drops);
    // And node 2 sends nothing: its process is gone (every send now comes from 0 or 1).
    // Its disk lost the plain counter, kept the durable one.
    EXPECT_EQ(w.node(2).fs().read_file("/var/lib/pp/plain", 64).status().code(), base::Code::kNotFound);
    auto durable = w.node(2).fs().read_file("/var/lib/pp/durable", 64);
    ASSERT_TRUE(durable.is_ok());
    EXPECT_EQ(std::stoull(*durable) % 10, 0u);

    w.restart(2);
    EXPECT_EQ(w.node(2).incarnation(), incarnation + 1);
    const uint64_t ok_before = stats.echoes_ok;
    w.run_for(Duration::seconds(2));
    EXPECT_GT(stats.echoes_ok, ok_before);  // it serves and connects again
    EXPECT_TRUE(w.node(2).fs().read_file("/var/lib/pp/plain", 64).is_ok());
    simtest::report_failure(w);
  }
}

// A node may crash itself from inside its own loop (a BUGGIFY-style site); the crash happens
// when that loop iteration returns.
TEST(Crash, FromInsideTheNodesOwnCallback) {
  sim::World w(1);
  struct Suicide : sim::Process {
    explicit Suicide(sim::Node& n) {
      AGENT_ASSERT(n.loop().arm_after(Duration::millis(10), [&n] { n.world().crash(n.id()); }).is_ok());
    }
  };
  sim::NodeId a = w.add_node("a", [](sim::Node& n) -> std::unique_ptr<sim::Process> {
    return std::make_unique<Suicide>(n);
  });
  w.run_for(Duration::millis(20));
  EXPECT_FALSE(w.node(a).up());
  w.restart(a);
  w.run_for(Duration::millis(20));
  EXPECT_FALSE(w.node(a).up());
  EXPECT_EQ(w.node(a).incarnation(), 2u);
}
