// Proves PosixSignals: blocked signals raised at the process arrive as events on the signalfd,
// mapped to hal::Signal, and the handle is pollable. raise() targets this thread, which is the
// one that blocked them, so no other thread can take the default action.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>

#include "hal/posix/posix_signals.h"
#include "test_util.h"

namespace {

using hal::Signal;
using hal::posix::PosixSignals;

TEST(PosixSignals, RaisedSignalsArriveOnTheHandle) {
  PosixSignals signals;
  const Signal wanted[] = {Signal::kUser1, Signal::kHangup, Signal::kTerminate};
  auto h = signals.open(wanted);
  ASSERT_TRUE(h.is_ok()) << h.status().to_string();
  auto none = signals.next(*h);
  ASSERT_FALSE(none.is_ok());
  EXPECT_EQ(none.status().code(), base::Code::kUnavailable);

  ASSERT_EQ(raise(SIGUSR1), 0);
  ASSERT_NE(posix_test::wait_ready(*h, hal::kReadable) & hal::kReadable, 0);
  auto s = signals.next(*h);
  ASSERT_TRUE(s.is_ok()) << s.status().to_string();
  EXPECT_EQ(*s, Signal::kUser1);

  // Blocked SIGTERM does not kill us; it queues with SIGHUP.
  ASSERT_EQ(raise(SIGTERM), 0);
  ASSERT_EQ(kill(getpid(), SIGHUP), 0);
  std::set<Signal> got;
  for (int i = 0; i < 2; ++i) {
    ASSERT_NE(posix_test::wait_ready(*h, hal::kReadable), 0);
    auto n = signals.next(*h);
    ASSERT_TRUE(n.is_ok()) << n.status().to_string();
    got.insert(*n);
  }
  EXPECT_EQ(got, (std::set<Signal>{Signal::kTerminate, Signal::kHangup}));
  EXPECT_EQ(signals.next(*h).status().code(), base::Code::kUnavailable);
  signals.close(*h);
}

TEST(PosixSignals, ChildExitIsReported) {
  PosixSignals signals;
  const Signal wanted[] = {Signal::kChild};
  auto h = signals.open(wanted);
  ASSERT_TRUE(h.is_ok());
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  ASSERT_NE(posix_test::wait_ready(*h, hal::kReadable), 0);
  auto s = signals.next(*h);
  ASSERT_TRUE(s.is_ok()) << s.status().to_string();
  EXPECT_EQ(*s, Signal::kChild);
  int status = 0;
  EXPECT_EQ(waitpid(child, &status, 0), child);
  signals.close(*h);
}

TEST(PosixSignals, MapsEverySignal) {
  EXPECT_EQ(hal::posix::signal_number(Signal::kInterrupt), SIGINT);
  EXPECT_EQ(hal::posix::signal_number(Signal::kTerminate), SIGTERM);
  EXPECT_EQ(hal::posix::signal_number(Signal::kHangup), SIGHUP);
  EXPECT_EQ(hal::posix::signal_number(Signal::kChild), SIGCHLD);
  EXPECT_EQ(hal::posix::signal_number(Signal::kUser1), SIGUSR1);
  PosixSignals signals;
  EXPECT_EQ(signals.open({}).status().code(), base::Code::kInvalidArgument);
}

}  // namespace
