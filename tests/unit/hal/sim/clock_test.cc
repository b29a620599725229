// The sim clock moves only when the World moves it; wall = epoch + mono + skew + jumps.
#include <gtest/gtest.h>

#include "hal/sim/world.h"

using base::Duration;
using base::MonoTime;

TEST(SimClock, AdvancesOnlyThroughTheWorld) {
  sim::World w(1);
  sim::NodeId a = w.add_node("a");
  hal::Clock& c = *w.node(a).env().clock;
  EXPECT_EQ(c.mono_now(), MonoTime::from_ns(0));
  EXPECT_EQ(c.mono_now(), MonoTime::from_ns(0));  // reading does not advance it
  w.run_for(Duration::millis(250));
  EXPECT_EQ(c.mono_now(), MonoTime::from_ns(0) + Duration::millis(250));
  w.run_until(MonoTime::from_ns(0) + Duration::seconds(3));
  EXPECT_EQ(c.mono_now().ns(), Duration::seconds(3).ns());
}

TEST(SimClock, WallIsEpochPlusMonoPlusSkewAndJumps) {
  sim::SimConfig cfg;
  sim::World w(7, cfg);
  sim::NodeId a = w.add_node("a");
  hal::Clock& c = *w.node(a).env().clock;
  EXPECT_EQ(c.wall_now().unix_ns(), cfg.wall_epoch_unix_ns);
  w.run_for(Duration::seconds(2));
  EXPECT_EQ(c.wall_now().unix_ns(), cfg.wall_epoch_unix_ns + Duration::seconds(2).ns());
  w.jump_wall_clock(a, Duration::seconds(-3600));
  EXPECT_EQ(c.wall_now().unix_ns(), cfg.wall_epoch_unix_ns + Duration::seconds(2 - 3600).ns());
  EXPECT_EQ(c.mono_now().ns(), Duration::seconds(2).ns());  // the jump leaves mono alone
}

TEST(SimClock, SkewIsBoundedAndSurvivesRestart) {
  sim::SimConfig cfg;
  cfg.wall_skew_max = Duration::millis(500);
  sim::World w(3, cfg);
  bool some_skew = false;
  for (int i = 0; i < 8; ++i) {
    sim::NodeId n = w.add_node("n" + std::to_string(i));
    const int64_t off = w.node(n).clock().wall_offset().ns();
    EXPECT_LE(std::abs(off), Duration::millis(500).ns());
    some_skew = some_skew || off != 0;
  }
  EXPECT_TRUE(some_skew);
  const int64_t before = w.node(0).clock().wall_offset().ns();
  w.crash(0);
  w.restart(0);
  EXPECT_EQ(w.node(0).clock().wall_offset().ns(), before);
}

TEST(SimClock, MonoNeverGoesBackAcrossRestart) {
  sim::World w(1);
  sim::NodeId a = w.add_node("a");
  w.run_for(Duration::seconds(5));
  const MonoTime before = w.node(a).env().clock->mono_now();
  w.crash(a);
  w.run_for(Duration::seconds(1));
  w.restart(a);
  EXPECT_GT(w.node(a).env().clock->mono_now(), before);
}
