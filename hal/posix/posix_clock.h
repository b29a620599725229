// hal/posix/posix_clock.h -- hal::Clock over clock_gettime.
//
// mono_now() reads CLOCK_MONOTONIC (not affected by settimeofday or NTP steps; stops while the
// machine is suspended, which is what timeouts want); wall_now() reads CLOCK_REALTIME.
// Threading: stateless, safe from any thread. Not here: timers (agent/runtime/loop.h keeps them).
#pragma once

#include "hal/clock.h"

namespace hal::posix {

class PosixClock final : public hal::Clock {
 public:
  base::MonoTime mono_now() override;
  base::WallTime wall_now() override;
};

}  // namespace hal::posix
