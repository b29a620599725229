// Proves PosixPoller: level-triggered readiness, interest changes, removal, timeouts that round
// up rather than spin, and wake() from another thread ending a wait that has no timeout.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "hal/posix/posix_net.h"
#include "hal/posix/posix_poller.h"
#include "test_util.h"

namespace {

using hal::SockAddr;
using hal::posix::PosixClock;
using hal::posix::PosixNet;
using hal::posix::PosixPoller;

struct UdpPair {
  PosixNet net;
  hal::Handle a = hal::kInvalidHandle;
  hal::Handle b = hal::kInvalidHandle;
  SockAddr b_addr;
  UdpPair() {
    a = *net.udp_open(SockAddr::ipv4(127, 0, 0, 1, 0));
    b = *net.udp_open(SockAddr::ipv4(127, 0, 0, 1, 0));
    b_addr = *net.local_addr(b);
  }
  void send_to_b() {
    ASSERT_TRUE(net.udp_send(a, b_addr, base::as_bytes(std::string_view("x"))).is_ok());
  }
};

// Waits up to kPatience for an event on `h`; returns its bits (0 if none).
uint8_t next_ready(PosixPoller& poller, hal::Handle h) {
  PosixClock clock;
  const base::MonoTime deadline = clock.mono_now() + posix_test::kPatience;
  while (clock.mono_now() < deadline) {
    hal::PollEvent events[8];
    auto n = poller.wait(deadline - clock.mono_now(), events);
    if (!n.is_ok()) return 0;
    for (size_t i = 0; i < *n; ++i) {
      if (events[i].handle == h) return events[i].ready;
    }
  }
  return 0;
}

TEST(PosixPoller, ReportsReadableLevelTriggered) {
  UdpPair p;
  PosixPoller poller;
  ASSERT_TRUE(poller.add(p.b, hal::kReadable).is_ok());
  hal::PollEvent events[4];
  auto idle = poller.wait(base::Duration::zero(), events);
  ASSERT_TRUE(idle.is_ok());
  EXPECT_EQ(*idle, 0u);

  p.send_to_b();
  EXPECT_EQ(next_ready(poller, p.b), hal::kReadable);
  // Not consumed: reported again.
  auto again = poller.wait(base::Duration::zero(), events);
  ASSERT_TRUE(again.is_ok());
  ASSERT_EQ(*again, 1u);
  EXPECT_EQ(events[0].handle, p.b);

  uint8_t buf[8];
  ASSERT_TRUE(p.net.udp_recv(p.b, buf, nullptr).is_ok());
  auto drained = poller.wait(base::Duration::zero(), events);
  ASSERT_TRUE(drained.is_ok());
  EXPECT_EQ(*drained, 0u);
  poller.remove(p.b);
}

TEST(PosixPoller, ModifyAndRemove) {
  UdpPair p;
  PosixPoller poller;
  ASSERT_TRUE(poller.add(p.a, 0).is_ok());
  hal::PollEvent events[4];
  EXPECT_EQ(*poller.wait(base::Duration::zero(), events), 0u);
  ASSERT_TRUE(poller.modify(p.a, hal::kWritable).is_ok());
  EXPECT_EQ(next_ready(poller, p.a), hal::kWritable);
  poller.remove(p.a);
  EXPECT_EQ(*poller.wait(base::Duration::zero(), events), 0u);

  // Registering twice and modifying an unregistered handle are errors, not crashes.
  ASSERT_TRUE(poller.add(p.a, hal::kReadable).is_ok());
  EXPECT_EQ(poller.add(p.a, hal::kReadable).code(), base::Code::kAlreadyExists);
  EXPECT_EQ(poller.modify(p.b, hal::kReadable).code(), base::Code::kNotFound);
  poller.remove(p.a);
}

TEST(PosixPoller, ReportsMoreThanOneBatchAcrossWaits) {
  // Three ready handles, room for one event per wait: each wait reports one, none is lost.
  PosixNet net;
  PosixPoller poller;
  hal::Handle h[3];
  for (auto& x : h) {
    x = *net.udp_open(SockAddr::ipv4(127, 0, 0, 1, 0));
    ASSERT_TRUE(poller.add(x, hal::kWritable).is_ok());
  }
  hal::PollEvent one[1];
  for (int i = 0; i < 3; ++i) {
    auto n = poller.wait(base::Duration::seconds(1), one);
    ASSERT_TRUE(n.is_ok());
    EXPECT_EQ(*n, 1u);
  }
  for (auto x : h) poller.remove(x);
}

TEST(PosixPoller, TimeoutWaitsAtLeastTheDurationRoundedUp) {
  PosixPoller poller;
  PosixClock clock;
  hal::PollEvent events[1];
  const base::MonoTime start = clock.mono_now();
  auto n = poller.wait(base::Duration::micros(300), events);
  ASSERT_TRUE(n.is_ok());
  EXPECT_EQ(*n, 0u);
  // 300 us rounds up to 1 ms; rounding down to 0 would return at once and make the loop spin.
  EXPECT_GE(clock.mono_now() - start, base::Duration::micros(300));
}

TEST(PosixPoller, WakeFromAnotherThreadEndsAnInfiniteWait) {
  PosixPoller poller;
  PosixClock clock;
  std::atomic<bool> waiting{false};
  std::thread waker([&] {
    while (!waiting.load()) std::this_thread::yield();
    // This may land just before wait() starts; the eventfd keeps it, so wait() still returns.
    poller.wake();
  });
  waiting.store(true);
  hal::PollEvent events[4];
  const base::MonoTime start = clock.mono_now();
  auto n = poller.wait(base::Duration::infinite(), events);
  waker.join();
  ASSERT_TRUE(n.is_ok());
  EXPECT_EQ(*n, 0u) << "the wake eventfd is never reported as an event";
  EXPECT_LT(clock.mono_now() - start, posix_test::kPatience);
  // The wake was consumed: the next wait times out.
  auto after = poller.wait(base::Duration::millis(1), events);
  ASSERT_TRUE(after.is_ok());
  EXPECT_EQ(*after, 0u);
}

TEST(PosixPoller, WakesBeforeWaitCoalesce) {
  PosixPoller poller;
  PosixClock clock;
  for (int i = 0; i < 100; ++i) poller.wake();
  hal::PollEvent events[4];
  const base::MonoTime start = clock.mono_now();
  ASSERT_TRUE(poller.wait(base::Duration::seconds(10), events).is_ok());
  EXPECT_LT(clock.mono_now() - start, base::Duration::seconds(5));
  // One return for all hundred: the next wait sleeps its full (short) timeout.
  const base::MonoTime second = clock.mono_now();
  ASSERT_TRUE(poller.wait(base::Duration::millis(20), events).is_ok());
  EXPECT_GE(clock.mono_now() - second, base::Duration::millis(20));
}

}  // namespace
