// Proves that the World runs the node with the earliest work, ties in id order, although it
// keeps nodes filed by next work time instead of asking every node on every step: timers armed
// and cancelled from outside a node's loop, work posted to it, datagrams arriving, a crash and a
// restart each reschedule the node.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "hal/sim/world.h"

namespace {

using base::Duration;
using base::MonoTime;

MonoTime at_ms(int64_t ms) { return MonoTime::from_ns(0) + Duration::millis(ms); }

struct NodeRun {
  sim::NodeId node;
  int64_t ms;
  bool operator==(const NodeRun&) const = default;
};

TEST(WorldSchedule, TimersArmedFromOutsideRunEarliestFirstTiesInIdOrder) {
  sim::World w(1);
  for (int i = 0; i < 5; ++i) w.add_node("n" + std::to_string(i));
  EXPECT_TRUE(w.next_time().is_never());  // every node filed as idle before the timers below
  std::vector<NodeRun> runs;
  auto arm = [&](sim::NodeId id, int64_t ms) {
    auto t = w.node(id).loop().arm(at_ms(ms), [&runs, &w, id] { runs.push_back({id, w.now().ns() / 1000000}); });
    EXPECT_TRUE(t.is_ok());
    return t.is_ok() ? *t : runtime::kNoTimer;
  };
  arm(3, 10);
  arm(0, 20);
  arm(1, 10);
  arm(4, 5);
  const runtime::TimerId cancelled = arm(2, 7);
  EXPECT_EQ(w.next_time(), at_ms(5));
  EXPECT_TRUE(w.node(2).loop().cancel(cancelled));
  w.run_until(at_ms(30));
  const std::vector<NodeRun> want{{4, 5}, {1, 10}, {3, 10}, {0, 20}};
  EXPECT_EQ(runs, want);
  EXPECT_TRUE(w.next_time().is_never());
}

// A node whose timer came due while an event ran ties with a node the event made due at that
// same time: the lower id runs first, as a scan of every node would choose.
TEST(WorldSchedule, NodeMadeDueByAnEventTiesWithATimerInIdOrder) {
  sim::World w(1);
  for (int i = 0; i < 3; ++i) w.add_node("n" + std::to_string(i));
  EXPECT_TRUE(w.next_time().is_never());
  std::vector<NodeRun> runs;
  auto record = [&runs, &w](sim::NodeId id) { runs.push_back({id, w.now().ns() / 1000000}); };
  ASSERT_TRUE(w.node(2).loop().arm(at_ms(10), [&record] { record(2); }).is_ok());
  w.at(at_ms(10), [&w, &record] { EXPECT_TRUE(w.node(1).loop().post([&record] { record(1); }).is_ok()); });
  w.run_until(at_ms(20));
  const std::vector<NodeRun> want{{1, 10}, {2, 10}};
  EXPECT_EQ(runs, want);
}

TEST(WorldSchedule, ArrivingDatagramWakesTheNodeAndACrashForgetsIt) {
  sim::SimConfig cfg;
  cfg.link.delay_min = Duration::millis(3);
  cfg.link.delay_max = Duration::millis(3);
  sim::World w(1, cfg);
  const sim::NodeId a = w.add_node("a");
  const sim::NodeId b = w.add_node("b");
  auto ua = w.node(a).env().net->udp_open(hal::SockAddr::ipv4(0, 0, 0, 0, 7000));
  auto ub = w.node(b).env().net->udp_open(hal::SockAddr::ipv4(0, 0, 0, 0, 7000));
  ASSERT_TRUE(ua.is_ok() && ub.is_ok());
  std::vector<int64_t> received_ms;
  ASSERT_TRUE(w.node(b)
                  .loop()
                  .watch(*ub, hal::kReadable,
                         [&](uint8_t) {
                           uint8_t buf[16];
                           while (w.node(b).env().net->udp_recv(*ub, buf, nullptr).is_ok()) {
                             received_ms.push_back(w.now().ns() / 1000000);
                           }
                         })
                  .is_ok());
  EXPECT_TRUE(w.next_time().is_never()) << "nothing to do until something arrives";
  ASSERT_TRUE(w.node(a).env().net->udp_send(*ua, w.node(b).address(7000), base::as_bytes("hi")).is_ok());
  w.run_until(at_ms(10));
  EXPECT_EQ(received_ms, std::vector<int64_t>{3});

  // A crashed node's pending timer never runs; after a restart it has no work of its own.
  bool ran = false;
  ASSERT_TRUE(w.node(b).loop().arm(at_ms(15), [&ran] { ran = true; }).is_ok());
  EXPECT_EQ(w.next_time(), at_ms(15));
  w.crash(b);
  EXPECT_TRUE(w.next_time().is_never());
  w.run_until(at_ms(20));
  EXPECT_FALSE(ran);
  w.restart(b);
  EXPECT_TRUE(w.next_time().is_never());
  ASSERT_TRUE(w.node(b).loop().arm(at_ms(25), [&ran] { ran = true; }).is_ok());
  w.run_until(at_ms(30));
  EXPECT_TRUE(ran);
}

}  // namespace
