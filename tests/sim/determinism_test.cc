// The same seed replays byte-identically; different seeds give different runs. The run is a
// ping-pong fleet over UDP and streams with loss, duplication, delay spread, a partition, a
// crash and a restart, a clock jump and executor work -- every source of randomness the
// simulator has.
#include <gtest/gtest.h>

#include "sim_helpers.h"

using base::Duration;

namespace {

struct RunResult {
  uint64_t hash;
  uint64_t entries;
  std::string text;
  simtest::PingPongStats stats;
};

RunResult run(uint64_t seed) {
  sim::SimConfig cfg;
  cfg.link.loss_probability = 0.05;
  cfg.link.duplicate_probability = 0.02;
  cfg.link.delay_min = Duration::micros(100);
  cfg.link.delay_max = Duration::millis(3);
  cfg.wall_skew_max = Duration::millis(100);
  cfg.trace_lines_max = 1 << 20;
  RunResult r{};
  sim::World w(seed, cfg);
  for (int i = 0; i < 5; ++i) w.add_node("n" + std::to_string(i), simtest::ping_pong(&r.stats));
  w.after(Duration::millis(500), [&w] { w.partition({0, 1}, {2, 3, 4}); });
  w.after(Duration::millis(900), [&w] { w.heal(); });
  w.after(Duration::millis(1100), [&w] { w.crash(3); });
  w.after(Duration::millis(1400), [&w] { w.restart(3); });
  w.after(Duration::millis(1500), [&w] { w.jump_wall_clock(2, Duration::seconds(30)); });
  w.after(Duration::millis(1600), [&w] {
    auto& ex = w.node(4).executor();
    for (int i = 0; i < 5; ++i) {
      AGENT_ASSERT(ex.submit([] {}, [&w, i] { w.note("done " + std::to_string(i)); }).is_ok());
    }
  });
  w.run_for(Duration::seconds(2));
  r.hash = w.trace_hash();
  r.entries = w.trace().entries();
  EXPECT_EQ(w.trace().lines_discarded(), 0u);
  r.text = w.trace().text();
  return r;
}

}  // namespace

TEST(Determinism, SameSeedReplaysByteIdentically) {
  for (uint64_t seed : sim::test_seeds(2)) {
    WEFT_SIM_SEED_SCOPE(seed);
    RunResult a = run(seed);
    RunResult b = run(seed);
    printf("seed %llu: %llu trace entries, hash %016llx, %llu pings, %llu echoes\n",
           static_cast<unsigned long long>(seed), static_cast<unsigned long long>(a.entries),
           static_cast<unsigned long long>(a.hash), static_cast<unsigned long long>(a.stats.pings_sent),
           static_cast<unsigned long long>(a.stats.echoes_ok));
    EXPECT_GT(a.entries, 2000u);
    EXPECT_GT(a.stats.echoes_ok, 0u);
    EXPECT_EQ(a.hash, b.hash);
    EXPECT_EQ(a.entries, b.entries);
    EXPECT_TRUE(a.text == b.text) << "trace text differs";  // not printed: it is megabytes
    EXPECT_EQ(a.stats.pongs_received, b.stats.pongs_received);
  }
}

TEST(Determinism, DifferentSeedsGiveDifferentTraces) {
  RunResult a = run(1001);
  RunResult b = run(1002);
  EXPECT_NE(a.hash, b.hash);
  EXPECT_NE(a.text, b.text);
}

// The hash covers every event even when no text is kept, and it is the same hash either way.
TEST(Determinism, HashDoesNotDependOnTextRecording) {
  auto hash_with = [](size_t lines) {
    sim::SimConfig cfg;
    cfg.link.loss_probability = 0.1;
    cfg.trace_lines_max = lines;
    simtest::PingPongStats stats;
    sim::World w(77, cfg);
    for (int i = 0; i < 3; ++i) w.add_node("n" + std::to_string(i), simtest::ping_pong(&stats));
    w.run_for(Duration::millis(500));
    return w.trace_hash();
  };
  EXPECT_EQ(hash_with(0), hash_with(100));
}
