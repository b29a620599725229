// A small, fast, seedable PRNG for the cores (xoshiro256**, seeded through splitmix64).
//
// Cores never call rand() or std::random_device: they own a Prng seeded at construction -- from
// the HAL's entropy in the agent, from the run's seed in the simulator -- so a simulated run is
// replayable from its seed. Not for keys or nonces: those come from hal/entropy.h.
// Threading: none; one owner.
#pragma once

#include <cstdint>

namespace base {

class Prng {
 public:
  explicit Prng(uint64_t seed) { reseed(seed); }

  void reseed(uint64_t seed);
  uint64_t next_u64();
  // Uniform in [0, bound) without modulo bias; bound must be > 0.
  uint64_t uniform(uint64_t bound);
  // Uniform in [lo, hi] inclusive; lo <= hi.
  int64_t range(int64_t lo, int64_t hi);
  // Uniform in [0, 1).
  double unit();
  // True with probability p (clamped to [0, 1]).
  bool chance(double p);

 private:
  uint64_t s_[4];
};

// One splitmix64 step: a good 64-bit mixer, used to derive independent seeds from one seed.
uint64_t splitmix64(uint64_t* state);

}  // namespace base
