// The event loop: one per process (one per simulated node), single-threaded, driving the cores.
//
// It owns three sources of work and runs them in a fixed order each iteration:
//   1. I/O readiness from the hal::Poller for the handles that are watched;
//   2. timers whose deadline has come (earliest first; ties in arming order);
//   3. closures posted from other threads (the worker pool's completions), in posting order.
// Timers are a heap kept here, not OS timers, so the same code runs under the simulator's
// virtual clock: the simulator calls next_deadline() to learn when this node next has work and
// run_once(Duration::zero()) to do it.
//
// A ScheduleObserver, if one is set, is told whenever next_deadline() may have changed, so a
// simulator running a thousand loops keeps them in an index by next deadline instead of asking
// every loop on every step.
//
// Bounds: timers and posted closures each have a maximum (LoopLimits); past it arm()/post()
// refuse with kResourceExhausted instead of growing. A deadline at or before now() is moved to
// just after it, so a timer that re-arms itself with zero delay runs in the next iteration and
// cannot starve I/O.
//
// Threading: every method except post() and stop() must be called on the loop's thread.
// Ownership: the Loop borrows the Clock and Poller; they must outlive it.
// Not here: protocol logic (the cores), blocking work (runtime/worker_pool.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <vector>

#include "agent/base/status.h"
#include "agent/base/time.h"
#include "hal/clock.h"
#include "hal/poller.h"

namespace runtime {

struct LoopLimits {
  // Timers pending at once. Each core keeps a handful; 64 Ki leaves room for thousands of
  // connections with their own timeouts.
  size_t timers_max = 65536;
  // Closures posted from other threads and not yet run. The worker pool's queue is smaller, so
  // this is only reached by a bug; it is a limit so that a bug cannot eat the node's memory.
  size_t posted_max = 4096;
  // Poll events taken per iteration; more stay ready for the next one (level-triggered).
  size_t events_per_wait_max = 64;
};

using TimerId = uint64_t;
inline constexpr TimerId kNoTimer = 0;

// Told that a Loop's next_deadline() (or, for the simulator's HandleSpace, a node's readiness)
// may have changed. Called on the thread that made the change -- post() may be another thread,
// so an observer of a loop fed by a real worker pool must be thread-safe; the simulator has only
// its own thread. It must not call back into the Loop.
class ScheduleObserver {
 public:
  virtual void on_schedule_changed() = 0;

 protected:
  ~ScheduleObserver() = default;
};

class Loop {
 public:
  using IoCallback = std::function<void(uint8_t ready)>;
  using Closure = std::function<void()>;

  Loop(hal::Clock& clock, hal::Poller& poller, LoopLimits limits = {});
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // The time at the start of the current iteration's dispatch (cores get it passed in).
  base::MonoTime now() const { return now_; }
  // Reads the clock again and returns it; for long handlers that need a fresh time.
  base::MonoTime refresh_now();

  // Calls `cb` with the readiness bits whenever `h` is ready for `interest`. One watch per
  // handle; unwatch() before closing the handle. A callback may watch/unwatch any handle,
  // including its own, and arm or cancel timers.
  [[nodiscard]] base::Status watch(hal::Handle h, uint8_t interest, IoCallback cb);
  [[nodiscard]] base::Status set_interest(hal::Handle h, uint8_t interest);
  void unwatch(hal::Handle h);
  bool watching(hal::Handle h) const { return watches_.count(h) != 0; }

  // Runs `cb` once at `deadline` (or in the next iteration if it has passed). Returns an id for
  // cancel(), or kResourceExhausted when timers_max are pending.
  base::Result<TimerId> arm(base::MonoTime deadline, Closure cb);
  base::Result<TimerId> arm_after(base::Duration delay, Closure cb) { return arm(now_ + delay, std::move(cb)); }
  // Cancels a pending timer. Returns false if it already ran or was cancelled (not an error).
  bool cancel(TimerId id);
  size_t timers_pending() const { return timers_.size(); }

  // Thread-safe: queues `cb` to run on the loop thread and wakes the loop.
  [[nodiscard]] base::Status post(Closure cb);

  // The earliest pending timer deadline, or MonoTime::never(). Posted work makes it now().
  // Cheap (no lock): the simulator calls it for every node it reschedules.
  base::MonoTime next_deadline() const;
  // Tells `observer` (nullptr: nobody) whenever next_deadline() may have changed: a timer armed
  // or cancelled, timers run, a closure posted or run. Borrowed; must outlive the Loop or be
  // unset first.
  void set_schedule_observer(ScheduleObserver* observer) { observer_ = observer; }

  // One iteration: waits for I/O at most `max_wait` (less if a timer is due sooner), then runs
  // ready I/O callbacks, due timers and posted closures. Returns a Status only if the poller
  // failed, which is fatal for the agent.
  [[nodiscard]] base::Status run_once(base::Duration max_wait);
  // Iterates until stop() is called. Thread-safe stop().
  [[nodiscard]] base::Status run();
  void stop();
  bool stopping() const;

  uint64_t iterations() const { return iterations_; }

 private:
  struct Watch {
    uint8_t interest;
    uint64_t generation;  // distinguishes a re-watch of the same handle number
    IoCallback cb;
  };
  using TimerKey = std::pair<base::MonoTime, TimerId>;

  void run_due_timers();
  void run_posted();
  void schedule_changed() {
    if (observer_ != nullptr) observer_->on_schedule_changed();
  }

  hal::Clock& clock_;
  hal::Poller& poller_;
  LoopLimits limits_;
  base::MonoTime now_;
  std::map<hal::Handle, Watch> watches_;
  uint64_t watch_generation_ = 0;
  std::map<TimerKey, Closure> timers_;
  std::map<TimerId, base::MonoTime> timer_deadlines_;
  TimerId next_timer_id_ = 1;
  std::vector<hal::PollEvent> events_;
  uint64_t iterations_ = 0;
  ScheduleObserver* observer_ = nullptr;

  mutable std::mutex posted_mu_;
  std::vector<Closure> posted_;
  // !posted_.empty(), readable without the lock: next_deadline() is on the simulator's hot path.
  // Set and cleared under posted_mu_; a post() racing with next_deadline() also wakes the poller,
  // so reading a stale false only costs what the lock would have: the next iteration runs it.
  std::atomic<bool> posted_pending_{false};
  bool stop_requested_ = false;  // guarded by posted_mu_
};

}  // namespace runtime
