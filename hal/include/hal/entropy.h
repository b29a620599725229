// hal/entropy.h -- cryptographically secure random bytes from the platform.
//
// Contract: fill(out) fills every byte of `out` or returns kIo/kUnavailable (e.g. the kernel's
// pool is not initialised yet during early boot and the call would block; callers at boot retry
// later). Thread-safe. Keys, nonces and PRNG seeds come from here; the simulator returns bytes
// derived from the run's seed so runs replay.
#pragma once

#include <cstdint>
#include <span>

#include "agent/base/status.h"

namespace hal {

class Entropy {
 public:
  virtual ~Entropy() = default;
  [[nodiscard]] virtual base::Status fill(std::span<uint8_t> out) = 0;
};

}  // namespace hal
