// Membership under failures, each over many seeds with the incarnation checker after every step:
//   - a crashed member is declared dead by every survivor within the bound the parameters imply;
//   - a slow but alive member (its datagrams handled 1.5 s late, as Lifeguard's paper slows a
//     member's message processing) is never declared dead, because it keeps refuting -- and with
//     refutation disabled (negative control) it is;
//   - a partition longer than the reap time heals into one view (retry-join through the join
//     address);
//   - a mass restart leaves nobody stuck dead -- and without a persisted generation (negative
//     control) the incarnation checker catches the restarted members going backwards;
//   - a random schedule of loss, partitions, crashes and restarts ends in one converged view.
#include <gtest/gtest.h>

#include <algorithm>

#include "agent/gossip/suspicion.h"
#include "gossip_helpers.h"
#include "sim_helpers.h"

using base::Duration;
using base::MonoTime;

namespace {

double secs(Duration d) { return static_cast<double>(d.ns()) / 1e9; }

// The detection bound the parameters imply for a fleet of n (SWIM 4.3 + Lifeguard IV.B):
// round-robin probing with a reshuffle per round reaches any member within 2(n-1) probe
// periods of each survivor (last in one round, first... at worst last in the next); the probe
// fails at the end of its period; the suspicion that follows (or an earlier one the survivor
// heard of) ends at most suspicion max after it began. Every survivor gets there on its own, so
// gossip only makes it faster. One probe period of slack covers link delays and timer rounding.
Duration detection_bound(const gossip::SwimConfig& c, size_t n) {
  const auto t = gossip::suspicion_timeouts(c.suspicion_mult, c.suspicion_max_timeout_mult, n, c.probe_interval);
  return c.probe_interval * static_cast<int64_t>(2 * (n - 1) + 2) + t.max;
}

TEST(GossipFailure, CrashedMemberDeclaredDeadWithinTheBound) {
  constexpr size_t kNodes = 8;
  const gossip::SwimConfig swim = gossip::profile_config(gossip::Profile::kLan);
  const Duration bound = detection_bound(swim, kNodes);
  Duration worst, total;
  int runs = 0;
  for (uint64_t seed : sim::test_seeds(30)) {
    WEFT_SIM_SEED_SCOPE(seed);
    sim::SimConfig cfg;
    cfg.link.delay_max = Duration::millis(10);
    cfg.trace_lines_max = 100;
    sim::World w(seed, cfg);
    gossiptest::Fleet fleet(w, {});
    fleet.watch();
    fleet.add_nodes(kNodes);
    ASSERT_TRUE(w.run_for([&] { return fleet.converged(); }, Duration::seconds(70)));
    w.run_for(Duration::seconds(5));
    base::Prng p(seed);
    const sim::NodeId victim = static_cast<sim::NodeId>(1 + p.uniform(kNodes - 1));
    const MonoTime crashed = w.now();
    w.crash(victim);
    const bool seen = w.run_for([&] { return fleet.all_see_gone(victim); }, bound + Duration::seconds(30));
    const Duration took = w.now() - crashed;
    ASSERT_TRUE(seen) << "not declared dead within " << secs(bound + Duration::seconds(30)) << " s";
    EXPECT_LE(took, bound) << "detection took " << secs(took) << " s, bound " << secs(bound) << " s";
    worst = std::max(worst, took);
    total = total + took;
    ++runs;
    EXPECT_EQ(fleet.violation, "");
    gossiptest::report_failure(w);
  }
  printf("crash detection, %zu members (lan): bound %.1f s, measured mean %.2f s, worst %.2f s over %d seeds\n",
         kNodes, secs(bound), secs(total) / runs, secs(worst), runs);
}

struct SlowResult {
  bool declared_dead = false;
  uint64_t suspicions = 0;   // times n3 became suspect in anyone's view
  uint64_t refutations = 0;  // n3's own refutations
};

SlowResult run_slow(uint64_t seed, bool refute) {
  constexpr size_t kNodes = 8;
  constexpr sim::NodeId kSlow = 3;
  sim::SimConfig cfg;
  cfg.link.delay_max = Duration::millis(5);
  cfg.link.loss_probability = 0.01;
  sim::World w(seed, cfg);
  gossiptest::FleetOptions o;
  o.processing_delay[kSlow] = Duration::millis(1500);
  if (!refute) o.no_refutation.push_back(kSlow);
  gossiptest::Fleet fleet(w, o);
  SlowResult r;
  fleet.add_nodes(kNodes);
  w.on_step([&] {
    fleet.check();
    if (!r.declared_dead && fleet.anyone_sees_dead(kSlow)) {
      r.declared_dead = true;
      if (refute && getenv("GOSSIP_DEBUG")) {
        fleet.dump(stderr);
        for (sim::NodeId i = 0; i < kNodes; ++i) {
          for (const auto& e : w.node(i).process_as<gossiptest::GossipNode>().events) {
            if (e.member.name == "n3" && e.time > w.now() - Duration::seconds(10))
              fprintf(stderr, "  n%u t=%.3f %s inc %llu\n", i, e.time.ns() / 1e9,
                      std::string(gossip::member_event_name(e.kind)).c_str(),
                      static_cast<unsigned long long>(e.member.incarnation & 0xffffffff));
          }
        }
      }
    }
  });
  w.run_for(Duration::seconds(120));
  for (sim::NodeId i = 0; i < kNodes; ++i) {
    for (const auto& e : w.node(i).process_as<gossiptest::GossipNode>().events) {
      r.suspicions += e.kind == gossip::MemberEventKind::kSuspect && e.member.name == "n3";
    }
  }
  r.refutations = fleet.transport(kSlow).swim_counters().refutations;
  EXPECT_EQ(fleet.violation, "");
  return r;
}

TEST(GossipFailure, SlowButAliveMemberIsNotDeclaredDeadWhileItRefutes) {
  uint64_t suspicions = 0, refutations = 0;
  int seeds = 0;
  for (uint64_t seed : sim::test_seeds(20)) {
    WEFT_SIM_SEED_SCOPE(seed);
    SlowResult r = run_slow(seed, true);
    EXPECT_FALSE(r.declared_dead);
    suspicions += r.suspicions;
    refutations += r.refutations;
    ++seeds;
  }
  printf("slow member (1.5 s processing delay), 120 s x %d seeds: %llu suspicions, %llu refutations, 0 deaths\n",
         seeds, static_cast<unsigned long long>(suspicions), static_cast<unsigned long long>(refutations));
  EXPECT_GT(refutations, 0u) << "the scenario never stressed the member";
}

// Negative control: the same slow member, not refuting, is declared dead.
TEST(GossipFailure, NegativeControlSlowMemberWithoutRefutationIsDeclaredDead) {
  int caught = 0;
  constexpr int kSeeds = 5;
  for (uint64_t seed = 1; seed <= kSeeds; ++seed) caught += run_slow(seed, false).declared_dead;
  printf("refutation disabled: slow member declared dead in %d of %d seeds\n", caught, kSeeds);
  EXPECT_EQ(caught, kSeeds);
}

TEST(GossipFailure, PartitionLongerThanReapTimeHealsIntoOneView) {
  for (uint64_t seed : sim::test_seeds(20)) {
    WEFT_SIM_SEED_SCOPE(seed);
    sim::SimConfig cfg;
    cfg.link.delay_max = Duration::millis(5);
    cfg.link.loss_probability = 0.02;
    cfg.trace_lines_max = 100;
    sim::World w(seed, cfg);
    gossiptest::FleetOptions o;
    o.swim.dead_reap_timeout = Duration::seconds(20);
    o.swim.left_reap_timeout = Duration::seconds(20);
    o.swim.rejoin_interval = Duration::seconds(10);
    gossiptest::Fleet fleet(w, o);
    fleet.watch();
    fleet.add_nodes(6);
    ASSERT_TRUE(w.run_for([&] { return fleet.converged(); }, Duration::seconds(70)));
    w.partition({0, 1, 2}, {3, 4, 5});
    w.run_for(Duration::seconds(90));  // suspicion (<= 24 s) + reap (20 s) well passed
    uint64_t reaped = 0;
    for (sim::NodeId i = 0; i < 6; ++i) reaped += fleet.transport(i).swim_counters().members_reaped;
    EXPECT_GE(reaped, 18u) << "each side should have forgotten the other";
    w.heal();
    const MonoTime healed = w.now();
    if (!w.run_for([&] { return fleet.converged(); }, Duration::seconds(90))) {
      fleet.dump(stderr);
      ADD_FAILURE() << "no single view 90 s after the heal";
    }
    if (seed == 1) printf("partition of 90 s (reap 20 s) healed into one view in %.1f s\n", secs(w.now() - healed));
    EXPECT_EQ(fleet.violation, "");
    gossiptest::report_failure(w);
  }
}

struct RestartResult {
  bool converged = false;
  std::string violation;
};

RestartResult run_mass_restart(uint64_t seed, bool persist_generation) {
  constexpr size_t kNodes = 8;
  sim::SimConfig cfg;
  cfg.link.delay_max = Duration::millis(5);
  cfg.link.loss_probability = 0.02;
  sim::World w(seed, cfg);
  gossiptest::FleetOptions o;
  o.persist_generation = persist_generation;
  gossiptest::Fleet fleet(w, o);
  fleet.watch();
  fleet.add_nodes(kNodes);
  RestartResult r;
  if (!w.run_for([&] { return fleet.converged(); }, Duration::seconds(70))) return r;
  // Everyone's incarnation moves past its first (new tags), so the survivors' views hold
  // incarnations a restarted member must beat.
  for (sim::NodeId i = 0; i < kNodes; ++i) fleet.transport(i).set_tags({{"role", "worker"}, {"v", "2"}}).ignore();
  w.run_for(Duration::seconds(10));
  // All but two crash at once and come back within a few seconds, in random order.
  base::Prng p(seed * 7 + 1);
  for (sim::NodeId i = 2; i < kNodes; ++i) w.crash(i);
  for (sim::NodeId i = 2; i < kNodes; ++i) {
    w.after(Duration::millis(1000 + static_cast<int64_t>(p.uniform(8000))), [&w, i] { w.restart(i); });
  }
  w.run_for(Duration::seconds(10));
  r.converged = w.run_for([&] { return fleet.converged(); }, Duration::seconds(90));
  if (!r.converged && persist_generation) fleet.dump(stderr);
  r.violation = fleet.violation;
  return r;
}

TEST(GossipFailure, MassRestartLeavesNobodyStuckDead) {
  for (uint64_t seed : sim::test_seeds(20)) {
    WEFT_SIM_SEED_SCOPE(seed);
    RestartResult r = run_mass_restart(seed, true);
    EXPECT_TRUE(r.converged);
    EXPECT_EQ(r.violation, "");
  }
}

// Negative control: without a persisted generation a restarted member starts below the
// incarnation it held before, and the checker says so.
TEST(GossipFailure, NegativeControlUnpersistedGenerationIsCaught) {
  int caught = 0;
  constexpr int kSeeds = 5;
  for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
    RestartResult r = run_mass_restart(seed, false);
    if (!r.violation.empty()) {
      ++caught;
      if (seed == 1) printf("caught: %s\n", r.violation.c_str());
    }
  }
  EXPECT_EQ(caught, kSeeds);
}

TEST(GossipFailure, RandomFaultsThenOneView) {
  constexpr size_t kNodes = 6;
  for (uint64_t seed : sim::test_seeds(100)) {
    WEFT_SIM_SEED_SCOPE(seed);
    sim::SimConfig cfg;
    cfg.link.loss_probability = 0.05;
    cfg.link.duplicate_probability = 0.02;
    cfg.link.delay_min = Duration::micros(200);
    cfg.link.delay_max = Duration::millis(20);
    cfg.trace_lines_max = 100;
    sim::World w(seed, cfg);
    gossiptest::Fleet fleet(w, {});
    fleet.watch();
    fleet.add_nodes(kNodes);
    base::Prng faults(w.derive_seed(100));
    for (int64_t t_ms = 2000; t_ms < 40000; t_ms += 2000) {
      w.at(MonoTime::from_ns(0) + Duration::millis(t_ms), [&w, &faults] {
        switch (faults.uniform(6)) {
          case 0: {
            std::vector<sim::NodeId> a, b;
            for (sim::NodeId n = 0; n < kNodes; ++n) (faults.chance(0.5) ? a : b).push_back(n);
            w.partition(a, b);
            break;
          }
          case 1: {
            const sim::NodeId n = static_cast<sim::NodeId>(faults.uniform(kNodes));
            if (w.node(n).up()) w.crash(n);
            break;
          }
          case 2:
            for (sim::NodeId n = 0; n < kNodes; ++n) {
              if (!w.node(n).up()) w.restart(n);
            }
            break;
          case 3:
            w.heal();
            break;
          default:
            break;
        }
      });
    }
    w.run_until(MonoTime::from_ns(0) + Duration::seconds(40));
    w.heal();
    w.set_link_faults(sim::LinkFaults{});
    for (sim::NodeId n = 0; n < kNodes; ++n) {
      if (!w.node(n).up()) w.restart(n);
    }
    if (!w.run_for([&] { return fleet.converged(); }, Duration::seconds(120))) {
      fleet.dump(stderr);
      ADD_FAILURE() << "no single view 120 s after the faults stopped";
    }
    EXPECT_EQ(fleet.violation, "");
    gossiptest::report_failure(w);
    if (::testing::Test::HasFailure()) break;
  }
}

}  // namespace
