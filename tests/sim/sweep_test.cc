// A multi-seed sweep of a gossip-like fleet under random faults, with the safety invariant
// ("no node knows a version that was never issued") checked after every single step, and
// liveness ("after faults stop, every node learns the latest version") checked at the end. A
// negative control plants a bug and shows the same checker catches it.
#include <gtest/gtest.h>

#include "sim_helpers.h"

using base::Duration;

namespace {

struct SweepResult {
  bool safety_violated = false;
  std::string violation;
  bool converged = false;
  uint64_t steps = 0;
};

// Runs one seed: 5 nodes, 8 s of random partitions, crashes and restarts on a lossy network,
// then 4 s with faults off. Checks the invariant after every step.
SweepResult run_seed(uint64_t seed, bool buggy) {
  sim::SimConfig cfg;
  cfg.link.loss_probability = 0.1;
  cfg.link.duplicate_probability = 0.05;
  cfg.link.delay_min = Duration::micros(200);
  cfg.link.delay_max = Duration::millis(20);
  cfg.trace_lines_max = 200;  // the tail, printed if the test fails
  // Declared before the World: the processes (destroyed with the World) still touch `shared`.
  simtest::GossipShared shared;
  SweepResult result;
  sim::World w(seed, cfg);
  constexpr int kNodes = 5;
  for (int i = 0; i < kNodes; ++i) w.add_node("n" + std::to_string(i), simtest::version_gossip(&shared, buggy));

  w.on_step([&] {
    if (result.safety_violated) return;
    for (const auto& [node, v] : shared.known) {
      if (v > shared.issued_max) {
        result.safety_violated = true;
        char buf[160];
        snprintf(buf, sizeof buf, "node %u knows version %llu but only %llu were issued (t=%lld ns)", node,
                 static_cast<unsigned long long>(v), static_cast<unsigned long long>(shared.issued_max),
                 static_cast<long long>(w.now().ns()));
        result.violation = buf;
      }
    }
  });

  // The fault schedule comes from the seed too.
  base::Prng faults(w.derive_seed(100));
  for (int64_t t_ms = 250; t_ms < 8000; t_ms += 250) {
    w.at(base::MonoTime::from_ns(0) + Duration::millis(t_ms), [&w, &faults] {
      switch (faults.uniform(6)) {
        case 0: {  // split the fleet in two at a random point
          std::vector<sim::NodeId> a, b;
          for (sim::NodeId n = 0; n < kNodes; ++n) (faults.chance(0.5) ? a : b).push_back(n);
          w.partition(a, b);
          break;
        }
        case 1:
          w.partition_oneway({static_cast<sim::NodeId>(faults.uniform(kNodes))},
                             {static_cast<sim::NodeId>(faults.uniform(kNodes))});
          break;
        case 2: {
          sim::NodeId n = static_cast<sim::NodeId>(faults.uniform(kNodes));
          if (w.node(n).up()) w.crash(n);
          break;
        }
        case 3:
          for (sim::NodeId n = 0; n < kNodes; ++n) {
            if (!w.node(n).up()) w.restart(n);
          }
          break;
        case 4:
          w.heal();
          break;
        default:
          break;  // quiet
      }
    });
  }
  w.at(base::MonoTime::from_ns(0) + Duration::millis(8000), [&w] {
    w.heal();
    w.set_link_faults(sim::LinkFaults{});
    for (sim::NodeId n = 0; n < kNodes; ++n) {
      if (!w.node(n).up()) w.restart(n);
    }
  });
  w.run_until(base::MonoTime::from_ns(0) + Duration::millis(8000));
  result.converged = w.run_for(
      [&] {
        // Node 0 keeps issuing; everyone should be within one version of it.
        if (result.safety_violated) return true;
        if (shared.known.size() != kNodes) return false;
        for (const auto& [node, v] : shared.known) {
          if (v + 1 < shared.issued_max) return false;
        }
        return true;
      },
      Duration::seconds(4));
  result.steps = w.steps();
  if (result.safety_violated && !buggy) w.dump_trace(stderr, 40);
  return result;
}

}  // namespace

TEST(Sweep, GossipSafetyEveryStepAndLivenessAfterFaults) {
  uint64_t steps = 0;
  const auto seeds = sim::test_seeds(100);
  for (uint64_t seed : seeds) {
    WEFT_SIM_SEED_SCOPE(seed);
    SweepResult r = run_seed(seed, /*buggy=*/false);
    steps += r.steps;
    ASSERT_FALSE(r.safety_violated) << r.violation;
    ASSERT_TRUE(r.converged) << "fleet did not converge within 4 s after faults stopped";
  }
  printf("%zu seeds, %llu steps in total, invariant checked after each\n", seeds.size(),
         static_cast<unsigned long long>(steps));
}

// The negative control: the planted bug must be caught, and by most seeds.
TEST(Sweep, CheckerCatchesAPlantedBug) {
  int caught = 0;
  constexpr int kSeeds = 20;
  for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
    SweepResult r = run_seed(seed, /*buggy=*/true);
    if (r.safety_violated) ++caught;
    if (seed == 1 && r.safety_violated) printf("seed 1 caught: %s\n", r.violation.c_str());
  }
  printf("planted bug caught in %d of %d seeds\n", caught, kSeeds);
  EXPECT_GE(caught, kSeeds * 9 / 10);
}
