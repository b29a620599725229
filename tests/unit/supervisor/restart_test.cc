// RestartTracker: Nomad's restart policy rules, each driven through exits at chosen times.
#include "agent/supervisor/restart.h"

#include <gtest/gtest.h>

namespace supervisor {
namespace {

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kMin = 60 * kSec;

using Kind = RestartDecision::Kind;

sched::RestartPolicy policy(int32_t attempts, int64_t interval_ns, int64_t delay_ns,
                            sched::RestartMode mode) {
  sched::RestartPolicy p;
  p.attempts = attempts;
  p.interval_ns = interval_ns;
  p.delay_ns = delay_ns;
  p.mode = mode;
  return p;
}

// A batch task that exits 0 is complete and nothing is counted.
TEST(RestartTrackerTest, BatchExitZeroCompletes) {
  RestartTracker t(policy(3, 24 * 60 * kMin, 15 * kSec, sched::RestartMode::kFail), true);
  RestartDecision d = t.on_exit(0, 100, 0.0);
  EXPECT_EQ(d.kind, Kind::kComplete);
  EXPECT_EQ(d.reason, "Restart unnecessary as task terminated successfully");
  EXPECT_EQ(t.count(), 0);
  // A batch task's non-zero exit is a failure.
  d = t.on_exit(1, 200, 0.0);
  EXPECT_EQ(d.kind, Kind::kRestart);
  EXPECT_EQ(t.count(), 1);
}

// A service task's exit 0 is a failure like any other: it restarts and counts.
TEST(RestartTrackerTest, ServiceExitZeroRestarts) {
  RestartTracker t(sched::RestartPolicy{}, false);
  RestartDecision d = t.on_exit(0, 5 * kSec, 0.0);
  EXPECT_EQ(d.kind, Kind::kRestart);
  EXPECT_EQ(d.delay_ns, 15 * kSec);
  EXPECT_EQ(d.reason, "Restart within policy");
  EXPECT_EQ(t.count(), 1);
  EXPECT_EQ(t.window_start_ns(), 5 * kSec);
}

// The default service policy (2 in 30m, fail): two restarts, then the third failure fails with
// Nomad's event text.
TEST(RestartTrackerTest, AttemptsWithinIntervalThenFail) {
  RestartTracker t(sched::RestartPolicy{}, false);
  EXPECT_EQ(t.on_exit(1, 0, 0.0).kind, Kind::kRestart);
  EXPECT_EQ(t.on_exit(1, 1 * kMin, 0.0).kind, Kind::kRestart);
  RestartDecision d = t.on_exit(1, 2 * kMin, 0.0);
  EXPECT_EQ(d.kind, Kind::kFail);
  EXPECT_EQ(d.reason, "Exceeded allowed attempts 2 in interval 30m0s and mode is \"fail\"");
  EXPECT_EQ(t.count(), 3);
}

// An exit after the window's end starts a new window with a count of 1; one exactly at the end
// is still inside (Nomad's now.After(end)).
TEST(RestartTrackerTest, WindowResetsAfterInterval) {
  RestartTracker t(policy(2, 10 * kMin, kSec, sched::RestartMode::kFail), false);
  EXPECT_EQ(t.on_exit(1, 0, 0.0).kind, Kind::kRestart);
  EXPECT_EQ(t.on_exit(1, 10 * kMin, 0.0).kind, Kind::kRestart);  // at the end: same window
  EXPECT_EQ(t.count(), 2);
  RestartDecision d = t.on_exit(1, 10 * kMin + 1, 0.0);
  EXPECT_EQ(d.kind, Kind::kRestart);
  EXPECT_EQ(t.count(), 1);
  EXPECT_EQ(t.window_start_ns(), 10 * kMin + 1);
}

// Mode delay: past the attempts, the restart waits for the window's end (plus the jitter) and
// the exit after it opens a new window.
TEST(RestartTrackerTest, ModeDelayWaitsForWindowEnd) {
  RestartTracker t(policy(1, 10 * kMin, 4 * kSec, sched::RestartMode::kDelay), false);
  EXPECT_EQ(t.on_exit(1, 1 * kMin, 0.0).delay_ns, 4 * kSec);
  RestartDecision d = t.on_exit(1, 3 * kMin, 0.0);
  EXPECT_EQ(d.kind, Kind::kRestart);
  EXPECT_EQ(d.delay_ns, 8 * kMin);  // the window is [1m, 11m]
  EXPECT_EQ(d.reason, "Exceeded allowed attempts, applying a delay");
  d = t.on_exit(1, 4 * kMin, 0.5);
  EXPECT_EQ(d.delay_ns, 7 * kMin + kSec / 2);  // jitter: 0.5 * 25% of 4s
  // The task ran after the delay and exited: a new window.
  d = t.on_exit(1, 11 * kMin + 30 * kSec, 0.0);
  EXPECT_EQ(d.reason, "Restart within policy");
  EXPECT_EQ(t.count(), 1);
}

// attempts 0 fails the first failure, in either mode, but a batch success still completes.
TEST(RestartTrackerTest, AttemptsZero) {
  for (sched::RestartMode mode : {sched::RestartMode::kFail, sched::RestartMode::kDelay}) {
    RestartTracker t(policy(0, 10 * kMin, kSec, mode), false);
    RestartDecision d = t.on_exit(2, 0, 0.0);
    EXPECT_EQ(d.kind, Kind::kFail);
    EXPECT_EQ(d.reason, "Policy allows no restarts");
  }
  RestartTracker b(policy(0, 10 * kMin, kSec, sched::RestartMode::kFail), true);
  EXPECT_EQ(b.on_exit(0, 0, 0.0).kind, Kind::kComplete);
}

// The jitter adds 0 to 25% of the delay, scaled by the caller's draw in [0, 1).
TEST(RestartTrackerTest, JitterBounds) {
  for (double j : {0.0, 0.25, 0.5, 0.999999}) {
    RestartTracker t(policy(5, 10 * kMin, 20 * kSec, sched::RestartMode::kFail), false);
    RestartDecision d = t.on_exit(1, 0, j);
    EXPECT_GE(d.delay_ns, 20 * kSec);
    EXPECT_LT(d.delay_ns, 25 * kSec);
    EXPECT_EQ(d.delay_ns, 20 * kSec + static_cast<int64_t>(5.0 * kSec * j));
  }
}

// A start failure counts as a failed exit, and enough of them fail the task.
TEST(RestartTrackerTest, StartFailuresCount) {
  RestartTracker t(policy(1, 10 * kMin, kSec, sched::RestartMode::kFail), true);
  EXPECT_EQ(t.on_start_failure(0, 0.0).kind, Kind::kRestart);
  EXPECT_EQ(t.count(), 1);
  RestartDecision d = t.on_start_failure(kSec, 0.0);
  EXPECT_EQ(d.kind, Kind::kFail);
  EXPECT_EQ(d.reason, "Exceeded allowed attempts 1 in interval 10m0s and mode is \"fail\"");
}

// reset() forgets the count: the next failure is the first of a new window.
TEST(RestartTrackerTest, ResetForgetsHistory) {
  RestartTracker t(policy(1, 10 * kMin, kSec, sched::RestartMode::kFail), false);
  EXPECT_EQ(t.on_exit(1, 0, 0.0).kind, Kind::kRestart);
  t.reset();
  EXPECT_EQ(t.count(), 0);
  RestartDecision d = t.on_exit(1, kSec, 0.0);
  EXPECT_EQ(d.kind, Kind::kRestart);
  EXPECT_EQ(t.count(), 1);
  EXPECT_EQ(t.window_start_ns(), kSec);
}

// restore() brings back a stored window: failures continue its count, and a restored window that
// has passed starts over.
TEST(RestartTrackerTest, RestoreContinuesWindow) {
  sched::RestartPolicy p = policy(2, 10 * kMin, kSec, sched::RestartMode::kFail);
  RestartTracker t(p, false);
  t.restore(2, 5 * kMin);
  EXPECT_EQ(t.on_exit(1, 6 * kMin, 0.0).kind, Kind::kFail);

  RestartTracker old(p, false);
  old.restore(2, 5 * kMin);
  EXPECT_EQ(old.on_exit(1, 16 * kMin, 0.0).kind, Kind::kRestart);
  EXPECT_EQ(old.count(), 1);
  EXPECT_EQ(old.window_start_ns(), 16 * kMin);
}

}  // namespace
}  // namespace supervisor
