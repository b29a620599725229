// hal/clock.h -- the two clocks.
//
// Contract:
//   mono_now()  monotonic time; never goes backwards within one process (or one simulated node
//               between restarts); unaffected by wall-clock changes. Origin is unspecified.
//   wall_now()  UTC wall time; may jump (NTP, an operator, the simulator's clock-jump fault).
// Both are cheap enough to call per event-loop iteration. Thread-safe.
//
// Timers are not a HAL object: the runtime (agent/runtime/loop.h) keeps its own timer heap and
// sleeps in Poller::wait() until the earliest deadline, so the same timer code runs on every
// platform and in the simulator.
#pragma once

#include "agent/base/time.h"

namespace hal {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual base::MonoTime mono_now() = 0;
  virtual base::WallTime wall_now() = 0;
};

}  // namespace hal
