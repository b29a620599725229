// Proves the runtime Loop driven by the real PosixClock and PosixPoller: timers fire in deadline
// order (ties in arming order) and never early, cancel works from anywhere, a timer re-armed
// with zero delay cannot starve I/O, timers_max and posted_max refuse, callbacks may watch and
// unwatch (including a reused handle number, which must not see the old socket's events), and
// post()/stop() from another thread wake a loop that is waiting with no timeout.
#include "agent/runtime/loop.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "hal/posix/posix_clock.h"
#include "hal/posix/posix_net.h"
#include "hal/posix/posix_poller.h"

namespace {

using base::Duration;
using hal::SockAddr;
using runtime::Loop;

constexpr Duration kPatience = Duration::seconds(10);

// Runs the loop until `done()` or kPatience passes; returns done().
template <typename Pred>
bool run_until(Loop& loop, hal::Clock& clock, Pred done) {
  const base::MonoTime deadline = clock.mono_now() + kPatience;
  while (!done() && clock.mono_now() < deadline) {
    base::Status s = loop.run_once(Duration::millis(50));
    if (!s.is_ok()) return false;
  }
  return done();
}

struct Fixture {
  hal::posix::PosixClock clock;
  hal::posix::PosixPoller poller;
  hal::posix::PosixNet net;
};

TEST(Loop, TimersFireInDeadlineOrderNeverEarly) {
  Fixture f;
  Loop loop(f.clock, f.poller);
  std::vector<std::string> fired;
  bool early = false;
  auto arm = [&](Duration delay, std::string name) {
    const base::MonoTime deadline = loop.now() + delay;
    auto id = loop.arm(deadline, [&, deadline, name] {
      if (f.clock.mono_now() < deadline) early = true;
      fired.push_back(name);
    });
    ASSERT_TRUE(id.is_ok());
  };
  arm(Duration::millis(30), "30ms");
  arm(Duration::millis(5), "5ms-first");
  arm(Duration::millis(20), "20ms");
  arm(Duration::millis(5), "5ms-second");
  arm(Duration::millis(10), "10ms");
  EXPECT_EQ(loop.timers_pending(), 5u);
  ASSERT_TRUE(run_until(loop, f.clock, [&] { return fired.size() == 5; }));
  EXPECT_EQ(fired, (std::vector<std::string>{"5ms-first", "5ms-second", "10ms", "20ms", "30ms"}));
  EXPECT_FALSE(early);
  EXPECT_EQ(loop.timers_pending(), 0u);
}

TEST(Loop, CancelWorksBeforeAndFromCallbacks) {
  Fixture f;
  Loop loop(f.clock, f.poller);
  int a = 0, b = 0, c = 0;
  auto ta = loop.arm_after(Duration::millis(5), [&] { ++a; });
  auto tb = loop.arm_after(Duration::millis(10), [&] { ++b; });
  ASSERT_TRUE(ta.is_ok() && tb.is_ok());
  // The 1 ms timer cancels the 10 ms one from inside its callback.
  auto tc = loop.arm_after(Duration::millis(1), [&] {
    ++c;
    EXPECT_TRUE(loop.cancel(*tb));
  });
  ASSERT_TRUE(tc.is_ok());
  EXPECT_TRUE(loop.cancel(*ta));
  EXPECT_FALSE(loop.cancel(*ta)) << "second cancel is not an error, just false";
  EXPECT_FALSE(loop.cancel(runtime::kNoTimer));

  bool sentinel = false;
  ASSERT_TRUE(loop.arm_after(Duration::millis(30), [&] { sentinel = true; }).is_ok());
  ASSERT_TRUE(run_until(loop, f.clock, [&] { return sentinel; }));
  EXPECT_EQ(a, 0);
  EXPECT_EQ(b, 0);
  EXPECT_EQ(c, 1);
  EXPECT_FALSE(loop.cancel(*tc)) << "already ran";
}

TEST(Loop, ZeroDelayRearmDoesNotStarveIo) {
  Fixture f;
  Loop loop(f.clock, f.poller);
  auto rx = f.net.udp_open(SockAddr::ipv4(127, 0, 0, 1, 0));
  auto tx = f.net.udp_open(SockAddr::ipv4(127, 0, 0, 1, 0));
  ASSERT_TRUE(rx.is_ok() && tx.is_ok());
  bool got_datagram = false;
  ASSERT_TRUE(loop.watch(*rx, hal::kReadable,
                         [&](uint8_t) {
                           uint8_t buf[16];
                           if (f.net.udp_recv(*rx, buf, nullptr).is_ok()) got_datagram = true;
                         })
                  .is_ok());

  // A timer that re-arms itself with zero delay, forever.
  uint64_t spins = 0;
  std::function<void()> spin = [&] {
    ++spins;
    ASSERT_TRUE(loop.arm_after(Duration::zero(), spin).is_ok());
  };
  ASSERT_TRUE(loop.arm_after(Duration::zero(), spin).is_ok());

  // Each iteration runs the spinning timer at most once: re-arming defers to the next one.
  for (int i = 0; i < 5; ++i) {
    const uint64_t before = spins;
    ASSERT_TRUE(loop.run_once(Duration::zero()).is_ok());
    EXPECT_LE(spins - before, 1u);
  }
  ASSERT_TRUE(
      f.net.udp_send(*tx, *f.net.local_addr(*rx), base::as_bytes(std::string_view("io"))).is_ok());
  ASSERT_TRUE(run_until(loop, f.clock, [&] { return got_datagram; }));
  EXPECT_GT(spins, 0u);
  loop.unwatch(*rx);
  f.net.close(*rx);
  f.net.close(*tx);
}

TEST(Loop, TimersMaxRefuses) {
  Fixture f;
  runtime::LoopLimits limits;
  limits.timers_max = 3;
  Loop loop(f.clock, f.poller, limits);
  std::vector<runtime::TimerId> ids;
  for (int i = 0; i < 3; ++i) {
    auto id = loop.arm_after(Duration::seconds(60), [] {});
    ASSERT_TRUE(id.is_ok());
    ids.push_back(*id);
  }
  auto refused = loop.arm_after(Duration::seconds(60), [] {});
  ASSERT_FALSE(refused.is_ok());
  EXPECT_EQ(refused.status().code(), base::Code::kResourceExhausted);
  EXPECT_TRUE(loop.cancel(ids[1]));
  EXPECT_TRUE(loop.arm_after(Duration::seconds(60), [] {}).is_ok()) << "room again after a cancel";
}

TEST(Loop, PostedMaxRefuses) {
  Fixture f;
  runtime::LoopLimits limits;
  limits.posted_max = 2;
  Loop loop(f.clock, f.poller, limits);
  int ran = 0;
  ASSERT_TRUE(loop.post([&] { ++ran; }).is_ok());
  ASSERT_TRUE(loop.post([&] { ++ran; }).is_ok());
  EXPECT_EQ(loop.post([&] { ++ran; }).code(), base::Code::kResourceExhausted);
  EXPECT_EQ(loop.next_deadline(), loop.now()) << "posted work is due now";
  ASSERT_TRUE(run_until(loop, f.clock, [&] { return ran == 2; }));
  EXPECT_TRUE(loop.post([&] { ++ran; }).is_ok());
}

TEST(Loop, NextDeadlineIsTheEarliestTimer) {
  Fixture f;
  Loop loop(f.clock, f.poller);
  EXPECT_TRUE(loop.next_deadline().is_never());
  const base::MonoTime t = loop.now() + Duration::seconds(5);
  ASSERT_TRUE(loop.arm(t + Duration::seconds(1), [] {}).is_ok());
  auto id = loop.arm(t, [] {});
  ASSERT_TRUE(id.is_ok());
  EXPECT_EQ(loop.next_deadline(), t);
  loop.cancel(*id);
  EXPECT_EQ(loop.next_deadline(), t + Duration::seconds(1));
}

TEST(Loop, WatchAndUnwatchFromCallbacks) {
  Fixture f;
  Loop loop(f.clock, f.poller);
  auto a = f.net.udp_open(SockAddr::ipv4(127, 0, 0, 1, 0));
  auto b = f.net.udp_open(SockAddr::ipv4(127, 0, 0, 1, 0));
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  // `a` is writable at once. Its callback unwatches itself and starts watching `b` for reads.
  int a_calls = 0, b_calls = 0;
  ASSERT_TRUE(
      loop.watch(
              *a, hal::kWritable,
              [&](uint8_t ready) {
                ++a_calls;
                EXPECT_TRUE(ready & hal::kWritable);
                loop.unwatch(*a);
                EXPECT_TRUE(loop.watch(*b, hal::kReadable,
                                       [&](uint8_t) {
                                         ++b_calls;
                                         uint8_t buf[8];
                                         EXPECT_TRUE(f.net.udp_recv(*b, buf, nullptr).is_ok());
                                         loop.unwatch(*b);
                                       })
                                .is_ok());
                EXPECT_TRUE(
                    f.net.udp_send(*a, *f.net.local_addr(*b), base::as_bytes(std::string_view("x")))
                        .is_ok());
              })
          .is_ok());
  EXPECT_EQ(loop.watch(*a, hal::kReadable, [](uint8_t) {}).code(), base::Code::kAlreadyExists);
  ASSERT_TRUE(run_until(loop, f.clock, [&] { return b_calls == 1; }));
  EXPECT_EQ(a_calls, 1);
  EXPECT_FALSE(loop.watching(*a));
  EXPECT_FALSE(loop.watching(*b));
  // Nothing is watched any more: more iterations call nobody.
  ASSERT_TRUE(loop.run_once(Duration::millis(5)).is_ok());
  EXPECT_EQ(a_calls, 1);
  EXPECT_EQ(b_calls, 1);
  f.net.close(*a);
  f.net.close(*b);
}

TEST(Loop, SetInterestChangesWhatIsReported) {
  Fixture f;
  Loop loop(f.clock, f.poller);
  auto a = f.net.udp_open(SockAddr::ipv4(127, 0, 0, 1, 0));
  ASSERT_TRUE(a.is_ok());
  int writable = 0;
  ASSERT_TRUE(loop.watch(*a, 0,
                         [&](uint8_t ready) {
                           if (ready & hal::kWritable) ++writable;
                           EXPECT_TRUE(loop.set_interest(*a, 0).is_ok());
                         })
                  .is_ok());
  ASSERT_TRUE(loop.run_once(Duration::millis(5)).is_ok());
  EXPECT_EQ(writable, 0);
  ASSERT_TRUE(loop.set_interest(*a, hal::kWritable).is_ok());
  ASSERT_TRUE(run_until(loop, f.clock, [&] { return writable == 1; }));
  ASSERT_TRUE(loop.run_once(Duration::millis(5)).is_ok());
  EXPECT_EQ(writable, 1) << "interest dropped in the callback";
  loop.unwatch(*a);
  f.net.close(*a);
}

// Regression: when one callback closed a handle and watched a new socket that the OS gave the
// same number, the old socket's readiness (taken in the same poll) was delivered to the new
// watch, which could read a stale hangup as its own and drop a healthy connection.
TEST(Loop, ReusedHandleNumberDoesNotGetTheOldSocketsEvents) {
  Fixture f;
  Loop loop(f.clock, f.poller);
  auto tx = f.net.udp_open(SockAddr::ipv4(127, 0, 0, 1, 0));
  auto x = f.net.udp_open(SockAddr::ipv4(127, 0, 0, 1, 0));
  auto y = f.net.udp_open(SockAddr::ipv4(127, 0, 0, 1, 0));
  ASSERT_TRUE(tx.is_ok() && x.is_ok() && y.is_ok());
  // Both x and y become readable in the same poll.
  ASSERT_TRUE(
      f.net.udp_send(*tx, *f.net.local_addr(*x), base::as_bytes(std::string_view("1"))).is_ok());
  ASSERT_TRUE(
      f.net.udp_send(*tx, *f.net.local_addr(*y), base::as_bytes(std::string_view("2"))).is_ok());
  hal::posix::PosixPoller probe;
  ASSERT_TRUE(probe.add(*x, hal::kReadable).is_ok());
  ASSERT_TRUE(probe.add(*y, hal::kReadable).is_ok());
  hal::PollEvent ev[4];
  size_t ready = 0;
  for (int i = 0; i < 100 && ready < 2; ++i) {
    auto n = probe.wait(Duration::millis(100), ev);
    ASSERT_TRUE(n.is_ok());
    ready = *n;
  }
  ASSERT_EQ(ready, 2u);
  probe.remove(*x);
  probe.remove(*y);

  // Whichever callback runs first closes the other socket and opens a fresh one in its place.
  hal::Handle replaced = hal::kInvalidHandle;
  hal::Handle fresh = hal::kInvalidHandle;
  int fresh_calls = 0;
  int first_calls = 0;
  auto take_over = [&](hal::Handle self, hal::Handle other) {
    ++first_calls;
    uint8_t buf[8];
    EXPECT_TRUE(f.net.udp_recv(self, buf, nullptr).is_ok());
    loop.unwatch(self);
    loop.unwatch(other);
    f.net.close(other);
    replaced = other;
    auto h = f.net.udp_open(SockAddr::ipv4(127, 0, 0, 1, 0));
    ASSERT_TRUE(h.is_ok());
    fresh = *h;
    EXPECT_TRUE(loop.watch(fresh, hal::kReadable, [&](uint8_t) { ++fresh_calls; }).is_ok());
  };
  ASSERT_TRUE(loop.watch(*x, hal::kReadable, [&](uint8_t) { take_over(*x, *y); }).is_ok());
  ASSERT_TRUE(loop.watch(*y, hal::kReadable, [&](uint8_t) { take_over(*y, *x); }).is_ok());
  ASSERT_TRUE(loop.run_once(Duration::seconds(1)).is_ok());
  ASSERT_EQ(first_calls, 1);
  ASSERT_EQ(fresh, replaced) << "the kernel did not reuse the number; the test proves nothing";
  EXPECT_EQ(fresh_calls, 0) << "the fresh socket has no datagram; the event was the old one's";
  ASSERT_TRUE(loop.run_once(Duration::millis(5)).is_ok());
  EXPECT_EQ(fresh_calls, 0);
  loop.unwatch(fresh);
  f.net.close(fresh);
  f.net.close(replaced == *x ? *y : *x);
  f.net.close(*tx);
}

TEST(Loop, PostFromAnotherThreadWakesAnIdleLoop) {
  Fixture f;
  Loop loop(f.clock, f.poller);
  std::atomic<bool> ran{false};
  std::thread::id ran_on;
  std::thread poster([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let the loop go to sleep first
    EXPECT_TRUE(loop.post([&] {
                      ran_on = std::this_thread::get_id();
                      ran = true;
                    })
                    .is_ok());
  });
  const base::MonoTime start = f.clock.mono_now();
  // No timers, no I/O: only the post can end this wait before its (long) timeout.
  while (!ran && f.clock.mono_now() - start < kPatience) {
    ASSERT_TRUE(loop.run_once(Duration::infinite()).is_ok());
  }
  poster.join();
  EXPECT_TRUE(ran);
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  EXPECT_LT(f.clock.mono_now() - start, kPatience);
}

TEST(Loop, StopFromAnotherThreadEndsRun) {
  Fixture f;
  Loop loop(f.clock, f.poller);
  std::atomic<int> ticks{0};
  std::function<void()> tick = [&] {
    ++ticks;
    ASSERT_TRUE(loop.arm_after(Duration::millis(1), tick).is_ok());
  };
  ASSERT_TRUE(loop.arm_after(Duration::millis(1), tick).is_ok());
  std::thread stopper([&] {
    while (ticks < 3) std::this_thread::yield();
    loop.stop();
  });
  ASSERT_TRUE(loop.run().is_ok());
  stopper.join();
  EXPECT_TRUE(loop.stopping());
  EXPECT_GE(ticks.load(), 3);
}

}  // namespace
