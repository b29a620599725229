// hal/sim/entropy.h -- sim::SimEntropy: "random" bytes derived from the run's seed.
//
// Each node incarnation gets its own stream, seeded from the World's seed, the node id and the
// incarnation number, so a node's keys and nonces replay with the seed and do not shift when
// another node draws more bytes, while a restarted node still draws new ones (as a new process
// would). Not cryptographically secure in any sense: test use only.
//
// Fault: set_unavailable(true) makes fill() return kUnavailable, as the kernel's pool does during
// early boot, so boot code's retry path can be exercised.
// Threading: the simulation thread only.
#pragma once

#include <cstdint>
#include <span>

#include "agent/base/random.h"
#include "hal/entropy.h"

namespace sim {

class SimEntropy final : public hal::Entropy {
 public:
  explicit SimEntropy(uint64_t seed) : prng_(seed) {}

  [[nodiscard]] base::Status fill(std::span<uint8_t> out) override {
    if (unavailable_) return base::error(base::Code::kUnavailable, "sim entropy: pool not ready");
    size_t i = 0;
    while (i < out.size()) {
      uint64_t v = prng_.next_u64();
      for (int b = 0; b < 8 && i < out.size(); ++b, ++i) out[i] = static_cast<uint8_t>(v >> (8 * b));
    }
    return base::Status::ok();
  }

  void set_unavailable(bool unavailable) { unavailable_ = unavailable; }

 private:
  base::Prng prng_;
  bool unavailable_ = false;
};

}  // namespace sim
