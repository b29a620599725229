// hal/sim/clock.h -- sim::SimClock: a node's view of the World's virtual time.
//
// mono_now() is the World's virtual time itself: it starts at 0, moves only when the World
// moves it (never while a node's code is running), and is shared by every node, so it never goes
// backwards across a node's restarts either. wall_now() is the World's wall epoch plus virtual
// time plus this node's offset: a fixed skew drawn when the node is added
// (SimConfig::wall_skew_max) and whatever clock jumps a test injected (World::jump_wall_clock).
// The clock belongs to the node's "hardware": it survives crashes and restarts.
//
// Threading: the simulation thread only (the contract's thread safety holds trivially: there is
// one thread). Not here: timers (runtime::Loop keeps them) or making time pass.
#pragma once

#include "agent/base/time.h"
#include "hal/clock.h"

namespace sim {

class SimClock final : public hal::Clock {
 public:
  // Borrows the World's virtual time, which must outlive the clock.
  SimClock(const base::MonoTime& world_now, base::WallTime epoch, base::Duration wall_offset)
      : now_(world_now), epoch_(epoch), offset_(wall_offset) {}

  base::MonoTime mono_now() override { return now_; }
  base::WallTime wall_now() override {
    return epoch_ + base::Duration::nanos(now_.ns()) + offset_;
  }

  // Moves the wall clock by `delta` (either sign); the monotonic clock is unaffected.
  void jump_wall(base::Duration delta) { offset_ = offset_ + delta; }
  base::Duration wall_offset() const { return offset_; }

 private:
  const base::MonoTime& now_;
  base::WallTime epoch_;
  base::Duration offset_;
};

}  // namespace sim
