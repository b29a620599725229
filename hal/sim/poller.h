// hal/sim/poller.h -- sim::SimPoller: hal::Poller over the readiness the simulated network and
// signals compute, plus the small per-process glue they share (HandleSpace).
//
// wait() never blocks, whatever the timeout: virtual time only moves when the World moves it, so
// a simulated node is run by the World setting the time and calling Loop::run_once(zero), and
// wait() just reports which registered handles are ready right now (level-triggered, like
// epoll: a handle that stays readable is reported again). kHangup and kError are reported
// whatever the interest, as epoll does. When more handles are ready than `out` holds, the next
// wait() continues after the last one reported, so no handle starves.
//
// A node's loop calling Loop::run() (the blocking form) under the simulator would spin: drive
// simulated nodes only through the World.
//
// Threading: wake() may be called from any thread (it sets an atomic flag); everything else on
// the simulation thread. Ownership: one SimPoller per node incarnation (sim::Node owns it); it
// borrows the readiness sources registered with it.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <vector>

#include "agent/runtime/loop.h"
#include "hal/poller.h"

namespace sim {

// Handle numbers of one node incarnation, shared by its SimNet and SimSignals so that their
// handles never collide (as file descriptors don't). Handles count up from 3 and are never
// reused within an incarnation, so a stale handle is always recognised as stale.
// `changed` is the node's "readiness may have changed" flag: every state change a poller could
// observe sets it; the World clears it when it recomputes whether the node has ready handles.
// `observer` (the Node) is told at every touch(), so the World reschedules the node.
struct HandleSpace {
  hal::Handle next = 3;
  bool changed = true;
  runtime::ScheduleObserver* observer = nullptr;
  hal::Handle allocate() { return next++; }
  void touch() {
    changed = true;
    if (observer != nullptr) observer->on_schedule_changed();
  }
};

// Whatever owns handles that can be polled (SimNet, SimSignals).
class ReadinessSource {
 public:
  virtual ~ReadinessSource() = default;
  virtual bool owns(hal::Handle h) const = 0;
  // Current readiness bits (hal::kReadable, kWritable, kHangup, kError) of an owned handle.
  virtual uint8_t readiness(hal::Handle h) const = 0;
};

class SimPoller final : public hal::Poller {
 public:
  explicit SimPoller(HandleSpace& space) : space_(space) {}

  void add_source(ReadinessSource* source) { sources_.push_back(source); }

  // add() refuses (kInvalidArgument) a handle no source owns -- EBADF -- and (kAlreadyExists) a
  // handle already registered.
  [[nodiscard]] base::Status add(hal::Handle h, uint8_t interest) override;
  [[nodiscard]] base::Status modify(hal::Handle h, uint8_t interest) override;
  void remove(hal::Handle h) override;
  // Never blocks; see the file comment. Ignores `timeout`.
  base::Result<size_t> wait(base::Duration timeout, std::span<hal::PollEvent> out) override;
  void wake() override { woken_.store(true, std::memory_order_relaxed); }

  bool registered(hal::Handle h) const { return interest_.count(h) != 0; }
  size_t registered_count() const { return interest_.size(); }
  // True if wait() would report at least one event now for a handle `filter` accepts (the World
  // passes "the node's loop watches it", so handles a test registered by hand and polls itself
  // do not make the node look busy).
  template <typename Filter>
  bool any_ready(Filter filter) const {
    for (const auto& [h, interest] : interest_) {
      if (filter(h) && ready_bits(h, interest)) return true;
    }
    return false;
  }
  // True once since the last call if wake() was called (the World treats it as "has work").
  bool take_woken() { return woken_.exchange(false, std::memory_order_relaxed); }

 private:
  uint8_t ready_bits(hal::Handle h, uint8_t interest) const;

  HandleSpace& space_;
  std::vector<ReadinessSource*> sources_;
  std::map<hal::Handle, uint8_t> interest_;
  hal::Handle cursor_ = 0;  // wait() resumes after this handle
  std::atomic<bool> woken_{false};
};

}  // namespace sim
