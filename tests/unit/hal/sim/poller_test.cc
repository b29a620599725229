// SimPoller: never blocks, reports level-triggered readiness of registered handles only, refuses
// unknown and duplicate handles, and rotates so no handle starves.
#include <gtest/gtest.h>

#include <set>

#include "hal/sim/world.h"

TEST(SimPoller, NeverBlocksAndReportsOnlyRegisteredReadyHandles) {
  sim::World w(1);
  sim::NodeId a = w.add_node("a");
  sim::NodeId b = w.add_node("b");
  hal::Env& ea = w.node(a).env();
  hal::Env& eb = w.node(b).env();
  auto ua = ea.net->udp_open(hal::SockAddr::ipv4(0, 0, 0, 0, 7000));
  auto ub = eb.net->udp_open(hal::SockAddr::ipv4(0, 0, 0, 0, 7000));
  ASSERT_TRUE(ua.is_ok() && ub.is_ok());
  hal::PollEvent ev[8];
  // Nothing registered: returns at once even with an infinite timeout.
  EXPECT_EQ(*eb.poller->wait(base::Duration::infinite(), ev), 0u);
  ASSERT_TRUE(eb.poller->add(*ub, hal::kReadable).is_ok());
  EXPECT_EQ(eb.poller->add(*ub, hal::kReadable).code(), base::Code::kAlreadyExists);
  EXPECT_EQ(eb.poller->add(999, hal::kReadable).code(), base::Code::kInvalidArgument);
  EXPECT_EQ(*eb.poller->wait(base::Duration::infinite(), ev), 0u);

  ASSERT_TRUE(ea.net->udp_send(*ua, w.node(b).address(7000), base::as_bytes("hi")).is_ok());
  EXPECT_EQ(*eb.poller->wait(base::Duration::infinite(), ev), 0u);  // still in flight
  w.run_for(base::Duration::millis(10));
  ASSERT_EQ(*eb.poller->wait(base::Duration::zero(), ev), 1u);
  EXPECT_EQ(ev[0].handle, *ub);
  EXPECT_EQ(ev[0].ready, hal::kReadable);
  // Level-triggered: still readable until read.
  ASSERT_EQ(*eb.poller->wait(base::Duration::zero(), ev), 1u);
  uint8_t buf[16];
  ASSERT_TRUE(eb.net->udp_recv(*ub, buf, nullptr).is_ok());
  EXPECT_EQ(*eb.poller->wait(base::Duration::zero(), ev), 0u);
  // Interest in writability: a UDP socket is always writable.
  ASSERT_TRUE(eb.poller->modify(*ub, hal::kReadable | hal::kWritable).is_ok());
  ASSERT_EQ(*eb.poller->wait(base::Duration::zero(), ev), 1u);
  EXPECT_EQ(ev[0].ready, hal::kWritable);
  eb.poller->remove(*ub);
  EXPECT_EQ(*eb.poller->wait(base::Duration::zero(), ev), 0u);
}

TEST(SimPoller, RotatesWhenMoreHandlesAreReadyThanFit) {
  sim::World w(1);
  sim::NodeId a = w.add_node("a");
  hal::Env& e = w.node(a).env();
  std::vector<hal::Handle> hs;
  for (int i = 0; i < 5; ++i) {
    auto h = e.net->udp_open(hal::SockAddr::ipv4(0, 0, 0, 0, 0));
    ASSERT_TRUE(h.is_ok());
    ASSERT_TRUE(e.poller->add(*h, hal::kWritable).is_ok());
    hs.push_back(*h);
  }
  hal::PollEvent ev[2];
  std::set<hal::Handle> seen;
  for (int round = 0; round < 3; ++round) {
    ASSERT_EQ(*e.poller->wait(base::Duration::zero(), ev), 2u);
    seen.insert(ev[0].handle);
    seen.insert(ev[1].handle);
  }
  EXPECT_EQ(seen.size(), 5u);
}

TEST(SimPoller, LoopRunsIoCallbacksWhenTheWorldDeliversData) {
  sim::World w(1);
  sim::NodeId a = w.add_node("a");
  sim::NodeId b = w.add_node("b");
  hal::Env& eb = w.node(b).env();
  auto ub = eb.net->udp_open(hal::SockAddr::ipv4(0, 0, 0, 0, 9));
  ASSERT_TRUE(ub.is_ok());
  int got = 0;
  base::MonoTime when;
  ASSERT_TRUE(w.node(b).loop().watch(*ub, hal::kReadable, [&](uint8_t) {
    uint8_t buf[64];
    while (eb.net->udp_recv(*ub, buf, nullptr).is_ok()) ++got;
    when = w.node(b).loop().now();
  }).is_ok());
  auto ua = w.node(a).env().net->udp_open(hal::SockAddr::ipv4(0, 0, 0, 0, 0));
  ASSERT_TRUE(w.node(a).env().net->udp_send(*ua, w.node(b).address(9), base::as_bytes("x")).is_ok());
  w.run_for(base::Duration::millis(5));
  EXPECT_EQ(got, 1);
  // The callback ran at the delivery's virtual time, within the default link delay.
  EXPECT_GE(when.ns(), w.config().link.delay_min.ns());
  EXPECT_LE(when.ns(), w.config().link.delay_max.ns());
}
