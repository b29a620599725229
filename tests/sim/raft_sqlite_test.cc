// Raft fleets whose disks are the real raft::SqliteStorage on each node's simulated disk (through
// the node's SQLite VFS, hal/sim/sqlite_vfs.h), under the same seeded faults as
// raft_safety_test.cc plus power cuts in the middle of an fsync (1% of syncs) and torn writes at
// half the crashes: the safety checkers after every step, the Durability check at every restart
// (the reopened log is exactly what the last sync left), linearizable KV client histories,
// snapshots and compaction (chapter 5, with SqliteStorage's log start), liveness after healing.
// Fewer seeds than the MemStorage sweeps: SQLite is slower. The negative control is a disk that
// acknowledges fsync without making anything durable; the Durability check must catch it, and so
// must the Raft checkers on their own.
#include <gtest/gtest.h>

#include <chrono>
#include <cinttypes>

#include "raft_helpers.h"

using base::Duration;
using rafttest::FaultPlan;
using rafttest::FleetOptions;
using rafttest::Outcome;

namespace {

FleetOptions sqlite_options() {
  FleetOptions o;
  o.sqlite = true;
  o.kv_clients = 3;  // and their histories must be linearizable, as in raft_safety_test.cc
  o.compact_probability = 1.0 / 30;  // snapshots and compaction in SqliteStorage too
  return o;
}

sim::SimConfig torn_config() {
  sim::SimConfig c = rafttest::fault_sim_config();
  c.disk_tear_probability = 0.5;
  c.disk_crash_in_sync_probability = 0.01;  // ~1 in 100 commits loses power mid-fsync
  return c;
}

}  // namespace

namespace {

void sweep(size_t servers, uint64_t seeds_default) {
  const auto t0 = std::chrono::steady_clock::now();
  uint64_t runs = 0, steps = 0, crashes = 0, reopens = 0, torn = 0, cuts = 0, applied = 0, compactions = 0,
           installs = 0;
  for (uint64_t seed : sim::test_seeds(seeds_default)) {
    WEFT_SIM_SEED_SCOPE(seed);
    Outcome o = rafttest::run_faults(seed, servers, sqlite_options(), FaultPlan{}, torn_config());
    ASSERT_EQ(o.violation, "");
    ASSERT_TRUE(o.settled) << "no leader committed a command and reached every replica after healing";
    ASSERT_GT(o.applied, 1u);
    ASSERT_EQ(o.verdict, lin::Verdict::kLinearizable) << lin::verdict_name(o.verdict) << ": " << o.lin_explanation;
    ++runs;
    steps += o.steps;
    crashes += o.crashes;
    reopens += o.reopens;
    torn += o.torn_files;
    cuts += o.power_cuts;
    compactions += o.compactions;
    installs += o.installs;
    applied += o.applied;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  printf("raft sqlite sim %zu servers: %" PRIu64 " seeds, %" PRIu64 " steps, %" PRIu64 " crashes (%" PRIu64
         " in fsync), %" PRIu64 " reopened logs checked, %" PRIu64 " files torn, %" PRIu64
         " entries applied per replica (sum), %" PRIu64 " compactions, %" PRIu64 " snapshots installed, %.1f s wall\n",
         servers, runs, steps, crashes, cuts, reopens, torn, applied, compactions, installs, secs);
  // The sweep proves something only if logs were reopened after crashes that tore writes.
  EXPECT_GT(reopens, runs);
  EXPECT_GT(cuts, 0u);
  EXPECT_GT(torn, 0u);
  EXPECT_GT(installs, 0u);
}

}  // namespace

// 100 and 40 seeds: about 5 s and 3 s of CPU in a release build (the MemStorage sweeps run 200
// and 100). Unoptimised builds (tools/test's Debug build-asan stage, ~40x slower) run a fifth of
// the seeds, so the shard that holds them stays far from ctest's timeout.
#if defined(__OPTIMIZE__)
constexpr uint64_t kSeedDivisor = 1;
#else
constexpr uint64_t kSeedDivisor = 5;
#endif

TEST(RaftSqliteSim, ThreeServersSurviveRandomFaultsAndTornWrites) { sweep(3, 100 / kSeedDivisor); }

TEST(RaftSqliteSim, FiveServersSurviveRandomFaultsAndTornWrites) { sweep(5, 40 / kSeedDivisor); }

// Chapter 4 on SqliteStorage: 3 voters and 2 spare servers, adds, promotions and removals among
// the faults, torn writes and power cuts as above. Configurations compacted into the log start
// (log_start_config, schema 3) must come back after every reopen -- the Durability check
// compares the reopened log start's configuration with the last sync's -- and reach joining
// servers in snapshots.
TEST(RaftSqliteSim, MembershipChangesSurviveCrashesAndTornWrites) {
  const auto t0 = std::chrono::steady_clock::now();
  FleetOptions opts = sqlite_options();
  opts.spare_servers = 2;
  FaultPlan plan;
  plan.membership = true;
  uint64_t runs = 0, changes = 0, reopens = 0, installs = 0;
  for (uint64_t seed : sim::test_seeds(30 / kSeedDivisor)) {
    WEFT_SIM_SEED_SCOPE(seed);
    Outcome o = rafttest::run_faults(seed, 3, opts, plan, torn_config());
    ASSERT_EQ(o.violation, "");
    ASSERT_TRUE(o.settled) << "no leader committed a command and reached every member after healing";
    ASSERT_EQ(o.verdict, lin::Verdict::kLinearizable) << lin::verdict_name(o.verdict) << ": " << o.lin_explanation;
    ++runs;
    changes += o.membership_changes;
    reopens += o.reopens;
    installs += o.installs;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  printf("raft sqlite sim membership: %" PRIu64 " seeds, %" PRIu64 " configuration changes, %" PRIu64
         " reopened logs checked, %" PRIu64 " snapshots installed, %.1f s wall\n", runs, changes, reopens, installs, secs);
  EXPECT_GT(changes, runs);
  EXPECT_GT(reopens, runs);
}

TEST(RaftSqliteSim, SameSeedSameTrace) {
  for (uint64_t seed : sim::test_seeds(1)) {
    WEFT_SIM_SEED_SCOPE(seed);
    Outcome a = rafttest::run_faults(seed, 3, sqlite_options(), FaultPlan{}, torn_config());
    Outcome b = rafttest::run_faults(seed, 3, sqlite_options(), FaultPlan{}, torn_config());
    EXPECT_EQ(a.violation, "");
    EXPECT_EQ(a.trace_hash, b.trace_hash);
    EXPECT_EQ(a.steps, b.steps);
    EXPECT_EQ(a.torn_files, b.torn_files);
  }
}

// Negative control: every node's disk acknowledges fsync and keeps nothing (SimFs::
// lie_about_syncs), so a crash takes acknowledged votes and entries with it. Run with crashes
// often and a slow disk (as raft_safety_test.cc's ack-before-persist control); the Durability
// check must catch it on every seed that restarted a server, and with that check off the five
// Raft checkers must still catch it on some seed.
namespace {

struct Caught {
  uint64_t runs = 0, caught = 0;
  std::string example;
};

Caught lying_disk(bool durability_check, uint64_t seeds) {
  FaultPlan plan;
  plan.crash_weight = 6;
  plan.gap_min = Duration::millis(20);
  plan.gap_max = Duration::millis(120);
  sim::SimConfig sc = torn_config();
  sc.executor_latency_min = Duration::millis(5);
  sc.executor_latency_max = Duration::millis(30);
  FleetOptions opts = sqlite_options();
  opts.check_durability = durability_check;
  opts.lie_about_syncs = true;
  Caught c;
  for (uint64_t seed : sim::test_seeds(seeds)) {
    Outcome o = rafttest::run_faults(seed, 3, opts, plan, sc);
    ++c.runs;
    if (!o.violation.empty()) {
      ++c.caught;
      if (c.example.empty()) c.example = "seed " + std::to_string(seed) + ": " + o.violation;
    }
  }
  return c;
}

}  // namespace

TEST(RaftSqliteSim, NegativeControlLyingFsyncIsCaughtByTheDurabilityCheck) {
  Caught c = lying_disk(/*durability_check=*/true, 3);
  printf("lying fsync, durability check on: caught on %" PRIu64 " of %" PRIu64 " seeds; first: %s\n", c.caught,
         c.runs, c.example.c_str());
  EXPECT_EQ(c.caught, c.runs);
  EXPECT_NE(c.example.find("Durability"), std::string::npos);
}

TEST(RaftSqliteSim, NegativeControlLyingFsyncIsCaughtByTheRaftCheckers) {
  Caught c = lying_disk(/*durability_check=*/false, 8 / kSeedDivisor + 1);
  printf("lying fsync, Raft checkers only: caught on %" PRIu64 " of %" PRIu64 " seeds; first: %s\n", c.caught, c.runs,
         c.example.c_str());
  EXPECT_GT(c.caught, 0u) << "the Raft checkers missed a disk that loses acknowledged writes";
}
