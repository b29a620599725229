// supervisor::RestartTracker -- a task's restart policy applied on the node, as Nomad's client
// applies it (client/allocrunner/taskrunner/restarts): a sans-I/O core that takes each exit and
// answers what to do and when.
//
// Rules (Nomad's):
//   - A batch task (job type batch or sysbatch) that exits 0 is complete: never restarted. Any
//     other exit of a batch task, and every exit of a service or system task, is a failure that
//     counts against the policy.
//   - Attempts count within a window of `interval_ns` that starts at the first counted exit; an
//     exit after the window has passed starts a new window with a count of 1.
//   - Within the window, while the count is at most `attempts`, the answer is kRestart after
//     `delay_ns` plus a jitter of up to 25% of it (`jitter` in [0, 1) from the caller's PRNG).
//   - When the count exceeds `attempts`: mode fail answers kFail ("exceeded allowed attempts 2 in
//     interval 30m0s and mode is \"fail\""); mode delay answers kRestart at the end of the window
//     (plus the jitter; "Exceeded allowed attempts, applying a delay") and the next exit starts a
//     new window.
//   - attempts 0: the first failure fails the task, whatever the mode ("Policy allows no
//     restarts", Nomad's hot path).
//   - A start failure (the driver could not start the task: program missing, bad user) counts
//     as a failed exit (Nomad: recoverable errors restart, others fail: every start failure here
//     is treated as recoverable, since a missing binary may be installed by a prestart task).
//   - reset() forgets the history (an operator's `alloc restart`).
// Threading: one owner. Times are the caller's monotonic nanoseconds.
#pragma once

#include <cstdint>
#include <string>

#include "agent/sched/job.h"

namespace supervisor {

struct RestartDecision {
  enum class Kind : uint8_t { kRestart, kFail, kComplete } kind = Kind::kRestart;
  int64_t delay_ns = 0;  // kRestart: wait this long before starting again
  std::string reason;    // one line for the task's events ("Restart within policy", ...)
};

class RestartTracker {
 public:
  RestartTracker(const sched::RestartPolicy& policy, bool batch);

  // The decision for an exit with `exit_code` at `now_ns`. `jitter` must be in [0, 1)
  // (asserted). A batch task's exit 0 answers kComplete and is not counted.
  RestartDecision on_exit(int exit_code, int64_t now_ns, double jitter);
  // The decision for a start the driver could not make: counted as a failed exit.
  RestartDecision on_start_failure(int64_t now_ns, double jitter);
  // Forgets the count and the window.
  void reset();

  int32_t count() const { return count_; }  // failures counted in the current window
  // For the local store: the count survives an agent restart. The supervisor restores it with
  // the restart's own time as the window's start (monotonic times do not survive a reboot), so
  // a window can only get longer across a restart, never shorter. A window is open while
  // count() > 0; restore(0, ...) is a fresh tracker.
  int64_t window_start_ns() const { return window_start_ns_; }
  void restore(int32_t count, int64_t window_start_ns) {
    count_ = count;
    window_start_ns_ = window_start_ns;
  }

 private:
  RestartDecision failed(int64_t now_ns, double jitter);
  sched::RestartPolicy policy_;
  bool batch_;
  int32_t count_ = 0;
  int64_t window_start_ns_ = 0;  // meaningful while count_ > 0
};

}  // namespace supervisor
