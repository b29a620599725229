#include "agent/runtime/loop.h"

#include <utility>

namespace runtime {

Loop::Loop(hal::Clock& clock, hal::Poller& poller, LoopLimits limits)
    : clock_(clock), poller_(poller), limits_(limits), now_(clock.mono_now()) {
  AGENT_ASSERT(limits_.events_per_wait_max > 0);
  events_.resize(limits_.events_per_wait_max);
}

base::MonoTime Loop::refresh_now() {
  now_ = clock_.mono_now();
  return now_;
}

base::Status Loop::watch(hal::Handle h, uint8_t interest, IoCallback cb) {
  AGENT_ASSERT(h >= 0);
  AGENT_ASSERT(cb);
  if (watches_.count(h)) return base::error(base::Code::kAlreadyExists, "handle %d already watched", h);
  AGENT_TRY(poller_.add(h, interest));
  watches_.emplace(h, Watch{interest, ++watch_generation_, std::move(cb)});
  return base::Status::ok();
}

base::Status Loop::set_interest(hal::Handle h, uint8_t interest) {
  auto it = watches_.find(h);
  AGENT_ASSERT_MSG(it != watches_.end(), "set_interest on an unwatched handle");
  if (it->second.interest == interest) return base::Status::ok();
  AGENT_TRY(poller_.modify(h, interest));
  it->second.interest = interest;
  return base::Status::ok();
}

void Loop::unwatch(hal::Handle h) {
  auto it = watches_.find(h);
  if (it == watches_.end()) return;
  poller_.remove(h);
  watches_.erase(it);
  // Drop events already taken from the poller for `h` and not yet dispatched: a callback that
  // unwatches and closes a handle may watch a new one the OS gives the same number, and that one
  // must not receive the old one's readiness (a stale kHangup would make it close a healthy
  // connection). Outside dispatch the array holds only spent events, so this is harmless.
  for (hal::PollEvent& ev : events_) {
    if (ev.handle == h) ev.handle = hal::kInvalidHandle;
  }
}

base::Result<TimerId> Loop::arm(base::MonoTime deadline, Closure cb) {
  AGENT_ASSERT(cb);
  if (timers_.size() >= limits_.timers_max) {
    return base::error(base::Code::kResourceExhausted, "timers_max (%zu) reached", limits_.timers_max);
  }
  // A deadline already passed runs in the next iteration, never in the current pass: a timer
  // that re-arms itself with zero delay cannot starve I/O.
  if (deadline <= now_) deadline = now_ + base::Duration::nanos(1);
  TimerId id = next_timer_id_++;
  auto it = timers_.emplace(TimerKey{deadline, id}, std::move(cb)).first;
  timer_deadlines_.emplace(id, deadline);
  if (it == timers_.begin()) schedule_changed();  // a new earliest deadline
  return id;
}

bool Loop::cancel(TimerId id) {
  auto it = timer_deadlines_.find(id);
  if (it == timer_deadlines_.end()) return false;
  auto timer = timers_.find(TimerKey{it->second, id});
  AGENT_ASSERT(timer != timers_.end());
  const bool was_first = timer == timers_.begin();
  timers_.erase(timer);
  timer_deadlines_.erase(it);
  if (was_first) schedule_changed();
  return true;
}

base::Status Loop::post(Closure cb) {
  AGENT_ASSERT(cb);
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    if (posted_.size() >= limits_.posted_max) {
      return base::error(base::Code::kResourceExhausted, "posted_max (%zu) reached", limits_.posted_max);
    }
    posted_.push_back(std::move(cb));
    posted_pending_.store(true, std::memory_order_release);
  }
  schedule_changed();
  poller_.wake();
  return base::Status::ok();
}

base::MonoTime Loop::next_deadline() const {
  if (posted_pending_.load(std::memory_order_acquire)) return now_;
  if (timers_.empty()) return base::MonoTime::never();
  return timers_.begin()->first.first;
}

base::Status Loop::run_once(base::Duration max_wait) {
  ++iterations_;
  now_ = clock_.mono_now();
  base::Duration wait = max_wait;
  base::MonoTime next = next_deadline();
  if (!next.is_never()) {
    base::Duration until = next - now_;
    if (until < base::Duration::zero()) until = base::Duration::zero();
    if (until < wait) wait = until;
  }
  AGENT_ASSIGN_OR_RETURN(size_t n, poller_.wait(wait, std::span<hal::PollEvent>(events_)));
  now_ = clock_.mono_now();
  for (size_t i = 0; i < n; ++i) {
    const hal::PollEvent ev = events_[i];
    auto it = watches_.find(ev.handle);
    if (it == watches_.end()) continue;  // unwatched by an earlier callback this iteration
    // An earlier callback may have narrowed the interest since the poller reported; report only
    // what is still asked for (hangup and error always).
    const uint8_t ready = ev.ready & (it->second.interest | hal::kHangup | hal::kError);
    if (ready == 0) continue;
    // Copy the callback: it may unwatch itself (destroying the stored one) while running.
    IoCallback cb = it->second.cb;
    cb(ready);
  }
  run_due_timers();
  run_posted();
  return base::Status::ok();
}

void Loop::run_due_timers() {
  // arm() never sets a deadline at or before now_, so the timers armed by these callbacks are
  // all later than `due` and this pass is bounded by the timers pending when it began.
  const base::MonoTime due = now_;
  while (!timers_.empty()) {
    auto it = timers_.begin();
    if (it->first.first > due) break;
    Closure cb = std::move(it->second);
    timer_deadlines_.erase(it->first.second);
    timers_.erase(it);
    schedule_changed();
    cb();
  }
}

void Loop::run_posted() {
  std::vector<Closure> batch;
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    batch.swap(posted_);
    posted_pending_.store(false, std::memory_order_release);
  }
  if (batch.empty()) return;
  schedule_changed();
  for (auto& cb : batch) cb();
}

base::Status Loop::run() {
  while (!stopping()) {
    AGENT_TRY(run_once(base::Duration::infinite()));
  }
  return base::Status::ok();
}

void Loop::stop() {
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    stop_requested_ = true;
  }
  poller_.wake();
}

bool Loop::stopping() const {
  std::lock_guard<std::mutex> lock(posted_mu_);
  return stop_requested_;
}

}  // namespace runtime
