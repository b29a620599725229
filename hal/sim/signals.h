// hal/sim/signals.h -- sim::SimSignals: signals a test raises on a node, as pollable handles.
//
// open() returns a handle that becomes readable when a signal in its set is raised with
// raise() (World::raise_signal(node, signal) in tests); next() pops the oldest pending one.
// Nothing is raised on its own. Each open handle queues independently, at most
// kPendingMax signals (further ones are coalesced away, as real pending signals are).
//
// Threading: the simulation thread only. Ownership: one per node incarnation; handles die with
// the incarnation. Not here: blocking the process's signal mask (there is no real process).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <vector>

#include "hal/signals.h"
#include "hal/sim/poller.h"

namespace sim {

class SimSignals final : public hal::Signals, public ReadinessSource {
 public:
  static constexpr size_t kPendingMax = 64;

  explicit SimSignals(HandleSpace& space) : space_(space) {}

  base::Result<hal::Handle> open(std::span<const hal::Signal> signals) override;
  base::Result<hal::Signal> next(hal::Handle h) override;
  void close(hal::Handle h) override;

  // Queues `signal` on every open handle whose set contains it, in handle order. Returns how
  // many handles took it.
  size_t raise(hal::Signal signal);

  bool owns(hal::Handle h) const override { return handles_.count(h) != 0; }
  uint8_t readiness(hal::Handle h) const override;
  size_t open_count() const { return handles_.size(); }

 private:
  struct Entry {
    std::vector<hal::Signal> set;
    std::deque<hal::Signal> pending;
  };
  HandleSpace& space_;
  std::map<hal::Handle, Entry> handles_;
};

}  // namespace sim
