// A large fleet (lan profile, a quiet LAN with small delay spread) joins through one member over
// 10 s and converges: every member sees every other alive. Prints the convergence time (virtual),
// the wall time it took to simulate and the trace hash (the same seed must print the same hash).
//
// Size: 1,000 members in an optimised build (the release ctest run). On the 2-core CI machine
// that takes ~50 s of CPU for ~21 s simulated; most of it is the members' own work (n^2 joins,
// each SWIM member inserting each newcomer into its probe order) -- the World's share is a few
// percent since it files nodes by next work time instead of scanning all of them every step.
// Under ASan+UBSan (tools/test's Debug build-asan stage, `ctest -L sim`) the run is ~10x slower,
// so a sanitized build defaults to 100 members, and an unoptimised one without sanitizers to
// 300: the same code paths, a smaller fleet. Any size on demand:
//   WEFT_GOSSIP_SCALE_N=300 build/tests/sim_tests --gtest_filter=GossipScale.*
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>

#include "gossip_helpers.h"
#include "sim_helpers.h"

using base::Duration;

#if defined(__SANITIZE_ADDRESS__)
#define GOSSIP_SCALE_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GOSSIP_SCALE_SANITIZED 1
#endif
#endif

TEST(GossipScale, LargeFleetConverges) {
  // Smaller fleets where the simulation is slower (see the file comment).
#if defined(GOSSIP_SCALE_SANITIZED)
  const size_t kDefault = 100;
#elif !defined(__OPTIMIZE__)
  const size_t kDefault = 300;
#else
  const size_t kDefault = 1000;
#endif
  const char* env_n = getenv("WEFT_GOSSIP_SCALE_N");  // hal/sim/seeds.h reads WEFT_SIM_* the same way
  const size_t kNodes = env_n != nullptr ? strtoul(env_n, nullptr, 10) : kDefault;
  ASSERT_GE(kNodes, 2u);
  const uint64_t seed = sim::test_seeds(1).front();
  WEFT_SIM_SEED_SCOPE(seed);
  const auto wall0 = std::chrono::steady_clock::now();
  sim::SimConfig cfg;
  cfg.link.delay_max = Duration::millis(2);
  sim::World w(seed, cfg);
  gossiptest::FleetOptions o;
  o.record_events = false;  // only views are checked
  gossiptest::Fleet fleet(w, o);
  // Joins spread over 10 s, as a fleet powering on would.
  w.add_node("n0", fleet.start_fn());
  for (size_t i = 1; i < kNodes; ++i) {
    w.at(base::MonoTime::from_ns(0) + Duration::millis(static_cast<int64_t>(i * 10000 / kNodes)),
         [&w, &fleet, i] { w.add_node("n" + std::to_string(i), fleet.start_fn()); });
  }
  w.run_for(Duration::seconds(10));
  ASSERT_EQ(w.node_count(), kNodes);
  // Checking all n^2 views is itself costly: check every simulated second.
  auto all_alive = [&] {
    for (sim::NodeId i = 0; i < kNodes; ++i) {
      const gossip::Swim* s = fleet.transport(i).swim();
      if (s->alive_count() != kNodes || s->member_count() != kNodes) return false;
    }
    return true;
  };
  bool ok = false;
  for (int s = 0; s < 180 && !ok; ++s) {
    w.run_for(Duration::seconds(1));
    ok = all_alive();
  }
  const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  printf("%zu members: all see all alive at t=%.1f s (sim; joins over 0..10 s), %.1f s wall, %llu steps, trace %016llx\n",
         kNodes, static_cast<double>(w.now().ns()) / 1e9, wall_s, static_cast<unsigned long long>(w.steps()),
         static_cast<unsigned long long>(w.trace_hash()));
  EXPECT_TRUE(ok) << kNodes << " members did not converge within 190 s";
}
