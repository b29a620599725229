// hal/sim/seeds.h -- which seeds a simulation test runs, and how a failure names its seed.
//
// Every seeded test loops over test_seeds(n): by default seeds 1..n. Two environment
// variables change that, so a failure seen in CI replays on a laptop:
//   WEFT_SIM_SEED=<u64>   run exactly that one seed (the one a failure printed);
//   WEFT_SIM_SEEDS=<n>    run n seeds instead of the test's default (long sweeps on demand).
// Reading the environment here is fine: hal/ is the layer that may; agent/ code never does.
//
// SeedScope is an RAII marker of "the seed being run now": while one is alive, an abort (a
// failed AGENT_ASSERT inside the simulated code) prints "sim: aborted while running seed=N;
// replay with WEFT_SIM_SEED=N" before the process dies, so even a crash names its seed.
// GoogleTest users add SCOPED_TRACE(sim::seed_banner(seed)) so assertion failures do too.
// Threading: the test's thread only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sim {

// The seeds to run: WEFT_SIM_SEED alone if set, else 1..WEFT_SIM_SEEDS (default `count_default`).
std::vector<uint64_t> test_seeds(uint64_t count_default);
// True if WEFT_SIM_SEED is set (a replay of one seed: tests may print more, e.g. the trace).
bool replaying_one_seed();
// "seed=N (replay: WEFT_SIM_SEED=N)".
std::string seed_banner(uint64_t seed);

class SeedScope {
 public:
  explicit SeedScope(uint64_t seed);
  ~SeedScope();
  SeedScope(const SeedScope&) = delete;
  SeedScope& operator=(const SeedScope&) = delete;

 private:
  uint64_t previous_;
  bool had_previous_;
};

}  // namespace sim
