// A large fleet (lan profile, a quiet LAN with small delay spread) joins through one member over
// 10 s and converges: every member sees every other alive. Prints the convergence time (virtual)
// and the wall time it took to simulate.
//
// Size: 1,000 members takes ~6 minutes of wall time in a release build (the work is n^2 log n
// message deliveries plus the World's per-step scan of every node), past the per-run budget, so
// the CI run uses 300 members (100 under ASan) and the 1,000-member run is on demand:
//   WEFT_GOSSIP_SCALE_N=1000 build/tests/sim_tests --gtest_filter=GossipScale.*
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
#if defined(GOSSIP_SCALE_SANITIZED)
  // Under ASan the simulation runs ~5x slower: a smaller fleet covers the same code paths.
  const size_t kDefault = 100;
#else
  const size_t kDefault = 300;
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
  printf("%zu members: all see all alive at t=%.1f s (sim; joins over 0..10 s), %.1f s wall, %llu steps\n", kNodes,
         static_cast<double>(w.now().ns()) / 1e9, wall_s, static_cast<unsigned long long>(w.steps()));
  EXPECT_TRUE(ok) << kNodes << " members did not converge within 190 s";
}
