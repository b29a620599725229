// Proves that a Loop tells its ScheduleObserver about every change that can move next_deadline()
// -- a new earliest timer, cancelling the earliest, timers running, work posted and run -- and
// that a later timer, which cannot move it, is not reported. The simulator's index of nodes by
// next work time (hal/sim/world.h) is only as right as these reports.
#include <gtest/gtest.h>

#include "agent/runtime/loop.h"
#include "hal/posix/posix_clock.h"
#include "hal/posix/posix_poller.h"

namespace {

using base::Duration;

struct Counter final : runtime::ScheduleObserver {
  int changes = 0;
  void on_schedule_changed() override { ++changes; }
};

TEST(LoopScheduleObserver, ReportsEveryChangeOfTheNextDeadline) {
  hal::posix::PosixClock clock;
  hal::posix::PosixPoller poller;
  runtime::Loop loop(clock, poller);
  Counter c;
  loop.set_schedule_observer(&c);
  const base::MonoTime t = loop.now() + Duration::seconds(60);

  auto late = loop.arm(t + Duration::seconds(2), [] {});
  ASSERT_TRUE(late.is_ok());
  EXPECT_EQ(c.changes, 1) << "the first timer is the earliest";
  ASSERT_TRUE(loop.arm(t + Duration::seconds(3), [] {}).is_ok());
  EXPECT_EQ(c.changes, 1) << "a later timer does not move the deadline";
  auto early = loop.arm(t, [] {});
  ASSERT_TRUE(early.is_ok());
  EXPECT_EQ(c.changes, 2);
  EXPECT_TRUE(loop.cancel(*late));
  EXPECT_EQ(c.changes, 2) << "cancelling a timer behind the earliest does not move it";
  EXPECT_TRUE(loop.cancel(*early));
  EXPECT_EQ(c.changes, 3);
  EXPECT_EQ(loop.next_deadline(), t + Duration::seconds(3));

  ASSERT_TRUE(loop.post([] {}).is_ok());
  EXPECT_EQ(c.changes, 4);
  EXPECT_EQ(loop.next_deadline(), loop.now()) << "posted work is due now";
  ASSERT_TRUE(loop.run_once(Duration::zero()).is_ok());
  EXPECT_EQ(c.changes, 5) << "running the posted work";
  EXPECT_EQ(loop.next_deadline(), t + Duration::seconds(3));

  ASSERT_TRUE(loop.arm(loop.now(), [] {}).is_ok());  // due in the next iteration
  const int before = c.changes;
  ASSERT_TRUE(loop.run_once(Duration::millis(5)).is_ok());
  EXPECT_GT(c.changes, before) << "a timer that ran";
  EXPECT_EQ(loop.next_deadline(), t + Duration::seconds(3));

  loop.set_schedule_observer(nullptr);
  ASSERT_TRUE(loop.post([] {}).is_ok());
  EXPECT_EQ(c.changes, before + 1) << "nobody is told once the observer is unset";
}

}  // namespace
