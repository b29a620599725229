// supervisor::RestartTracker (restart.h): Nomad's client restart tracker
// (client/allocrunner/taskrunner/restarts/restarts.go) as a sans-I/O core.
//
// Where it departs from Nomad, and why:
//   - Nomad counts every exit, a successful batch exit included, before it looks at the code;
//     here a batch task's exit 0 is not counted: it completes the task, so the count no longer
//     matters, and count() then reads as "failures", which is what the local store keeps.
//   - Nomad draws the jitter from its own PRNG; here the caller passes it in ([0, 1)) so that the
//     simulator's seed decides it.
//   - Nomad's delay mode waits exactly to the window's end; here the jitter is added to that wait
//     too, so that tasks whose windows end together do not all start in the same instant.
#include "agent/supervisor/restart.h"

#include <cstdio>

#include "agent/base/assert.h"
#include "agent/base/time.h"

namespace supervisor {
namespace {

// Nomad's jitter: up to a quarter of the delay is added.
constexpr double kJitterFraction = 0.25;

int64_t sat_add(int64_t a, int64_t b) {
  if (b > 0 && a > INT64_MAX - b) return INT64_MAX;
  return a + b;
}

std::string duration_text(int64_t ns) {
  char buf[48];
  base::format_duration(base::Duration::nanos(ns), buf, sizeof buf);
  return buf;
}

}  // namespace

RestartTracker::RestartTracker(const sched::RestartPolicy& policy, bool batch)
    : policy_(policy), batch_(batch) {
  AGENT_ASSERT(policy.attempts >= 0);
  AGENT_ASSERT(policy.interval_ns >= 0 && policy.delay_ns >= 0);
}

RestartDecision RestartTracker::on_exit(int exit_code, int64_t now_ns, double jitter) {
  if (batch_ && exit_code == 0) {
    return RestartDecision{.kind = RestartDecision::Kind::kComplete,
                           .delay_ns = 0,
                           .reason = "Restart unnecessary as task terminated successfully"};
  }
  return failed(now_ns, jitter);
}

RestartDecision RestartTracker::on_start_failure(int64_t now_ns, double jitter) {
  return failed(now_ns, jitter);
}

void RestartTracker::reset() {
  count_ = 0;
  window_start_ns_ = 0;
}

RestartDecision RestartTracker::failed(int64_t now_ns, double jitter) {
  AGENT_ASSERT(jitter >= 0.0 && jitter < 1.0);
  // A window is open while count_ > 0; an exit strictly after its end starts a new one (Nomad's
  // now.After(end)).
  if (count_ == 0 || now_ns > sat_add(window_start_ns_, policy_.interval_ns)) {
    count_ = 0;
    window_start_ns_ = now_ns;
  }
  if (count_ < INT32_MAX) count_++;

  auto jitter_ns =
      static_cast<int64_t>(static_cast<double>(policy_.delay_ns) * kJitterFraction * jitter);
  RestartDecision d;
  if (policy_.attempts == 0) {
    // Nomad's hot path: no restarts at all, whatever the mode.
    d.kind = RestartDecision::Kind::kFail;
    d.reason = "Policy allows no restarts";
    return d;
  }
  if (count_ <= policy_.attempts) {
    d.kind = RestartDecision::Kind::kRestart;
    d.delay_ns = sat_add(policy_.delay_ns, jitter_ns);
    d.reason = "Restart within policy";
    return d;
  }
  if (policy_.mode == sched::RestartMode::kFail) {
    d.kind = RestartDecision::Kind::kFail;
    d.reason = "Exceeded allowed attempts " + std::to_string(policy_.attempts) + " in interval " +
               duration_text(policy_.interval_ns) + " and mode is \"fail\"";
    return d;
  }
  // Mode delay: wait for the window to end; the exit after the restart opens a new window.
  int64_t end_ns = sat_add(window_start_ns_, policy_.interval_ns);
  int64_t wait_ns = end_ns > now_ns ? end_ns - now_ns : 0;
  d.kind = RestartDecision::Kind::kRestart;
  d.delay_ns = sat_add(wait_ns, jitter_ns);
  d.reason = "Exceeded allowed attempts, applying a delay";
  return d;
}

}  // namespace supervisor
