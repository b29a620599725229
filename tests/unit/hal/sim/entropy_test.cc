// Entropy, sysinfo, signals and the executor: per-node parts that derive from the seed or the
// test's configuration.
#include <gtest/gtest.h>

#include <array>

#include "hal/sim/world.h"

namespace {

std::array<uint8_t, 32> draw(sim::World& w, sim::NodeId n) {
  std::array<uint8_t, 32> out{};
  EXPECT_TRUE(w.node(n).env().entropy->fill(out).is_ok());
  return out;
}

}  // namespace

TEST(SimEntropy, DeterministicPerSeedDistinctPerNodeAndIncarnation) {
  sim::World w1(42), w2(42), w3(43);
  for (auto* w : {&w1, &w2, &w3}) {
    w->add_node("a");
    w->add_node("b");
  }
  auto a1 = draw(w1, 0), a2 = draw(w2, 0), a3 = draw(w3, 0);
  EXPECT_EQ(a1, a2);
  EXPECT_NE(a1, a3);
  EXPECT_NE(draw(w1, 0), draw(w1, 1));
  // A restarted node is a new process: new bytes, but the same ones for the same seed.
  w1.crash(0);
  w1.restart(0);
  w2.crash(0);
  w2.restart(0);
  auto r1 = draw(w1, 0), r2 = draw(w2, 0);
  EXPECT_EQ(r1, r2);
  EXPECT_NE(r1, a1);
}

TEST(SimEntropy, UnavailableFault) {
  sim::World w(1);
  sim::NodeId a = w.add_node("a");
  w.node(a).entropy().set_unavailable(true);
  std::array<uint8_t, 4> out{};
  EXPECT_EQ(w.node(a).env().entropy->fill(out).code(), base::Code::kUnavailable);
}

TEST(SimSysInfo, DefaultsAndConfiguredFacts) {
  sim::World w(1);
  sim::NodeConfig c;
  c.name = "foundation-1";
  c.facts.cpu_count = 16;
  c.environment = {"AGENT_DATA_DIR=/data"};
  sim::NodeId n = w.add_node(std::move(c));
  hal::SysInfo& sys = *w.node(n).env().sys;
  auto f = sys.read();
  ASSERT_TRUE(f.is_ok());
  EXPECT_EQ(f->hostname, "foundation-1");
  EXPECT_EQ(f->cpu_count, 16u);
  ASSERT_EQ(f->interfaces.size(), 1u);
  EXPECT_EQ(f->interfaces[0].addresses, (std::vector<std::string>{"10.0.0.1/24"}));
  EXPECT_EQ(sys.environment(), (std::vector<std::string>{"AGENT_DATA_DIR=/data"}));
  w.node(n).sysinfo().set_failing(true);
  EXPECT_EQ(sys.read().status().code(), base::Code::kIo);
}

TEST(SimSignals, RaisedSignalMakesHandleReadable) {
  sim::World w(1);
  sim::NodeId n = w.add_node("a");
  hal::Env& env = w.node(n).env();
  const hal::Signal set[] = {hal::Signal::kTerminate, hal::Signal::kHangup};
  auto h = env.signals->open(set);
  ASSERT_TRUE(h.is_ok());
  ASSERT_TRUE(env.poller->add(*h, hal::kReadable).is_ok());
  hal::PollEvent ev[4];
  EXPECT_EQ(*env.poller->wait(base::Duration::infinite(), ev), 0u);
  EXPECT_EQ(env.signals->next(*h).status().code(), base::Code::kUnavailable);
  EXPECT_EQ(w.raise_signal(n, hal::Signal::kUser1), 0u);  // not in the set
  EXPECT_EQ(w.raise_signal(n, hal::Signal::kHangup), 1u);
  ASSERT_EQ(*env.poller->wait(base::Duration::infinite(), ev), 1u);
  EXPECT_EQ(ev[0].handle, *h);
  EXPECT_EQ(*env.signals->next(*h), hal::Signal::kHangup);
  EXPECT_EQ(*env.poller->wait(base::Duration::infinite(), ev), 0u);
  env.poller->remove(*h);
  env.signals->close(*h);
}

TEST(SimExecutor, WorkRunsInlineDoneAfterSeededLatency) {
  sim::SimConfig cfg;
  cfg.executor_latency_min = base::Duration::millis(2);
  cfg.executor_latency_max = base::Duration::millis(9);
  cfg.executor_queue_max = 2;
  sim::World w(5, cfg);
  sim::NodeId n = w.add_node("a");
  runtime::Executor& ex = w.node(n).executor();
  int work = 0, done = 0;
  base::MonoTime done_at;
  ASSERT_TRUE(ex.submit([&] { ++work; }, [&] { ++done; done_at = w.now(); }).is_ok());
  EXPECT_EQ(work, 1);
  EXPECT_EQ(done, 0);
  ASSERT_TRUE(ex.submit([&] { ++work; }, [&] { ++done; }).is_ok());
  EXPECT_EQ(ex.submit([] {}, [] {}).code(), base::Code::kResourceExhausted);
  w.run_for(base::Duration::millis(20));
  EXPECT_EQ(done, 2);
  EXPECT_GE(done_at.ns(), base::Duration::millis(2).ns());
  EXPECT_LE(done_at.ns(), base::Duration::millis(9).ns() + 1);
  // A crash drops pending completions.
  ASSERT_TRUE(w.node(n).executor().submit([] {}, [&] { ++done; }).is_ok());
  w.crash(n);
  w.run_for(base::Duration::millis(20));
  EXPECT_EQ(done, 2);
}

// AGENT_BUGGIFY through the World's hook: sites are enabled per run from the seed (about a
// quarter of them), enabled ones fire at their probability, and with no World it is false.
#define WEFT_BUGGIFY 1
#include "agent/base/buggify.h"

TEST(SimBuggify, SitesEnabledPerSeedAndFireAtTheirRate) {
  EXPECT_FALSE(AGENT_BUGGIFY(1.0));  // no hook installed
  int enabled_sites = 0;
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    sim::SimConfig cfg;
    cfg.buggify = true;
    sim::World w(seed, cfg);
    enabled_sites += AGENT_BUGGIFY(1.0) ? 1 : 0;  // one site: on in about 25% of runs
  }
  EXPECT_GT(enabled_sites, 20);
  EXPECT_LT(enabled_sites, 80);
  EXPECT_FALSE(AGENT_BUGGIFY(1.0));  // uninstalled with the World
  // Same seed, same decisions.
  auto decisions = [](uint64_t seed) {
    sim::SimConfig cfg;
    cfg.buggify = true;
    cfg.buggify_site_probability = 1.0;
    sim::World w(seed, cfg);
    std::string out;
    for (int i = 0; i < 1000; ++i) out += AGENT_BUGGIFY(0.3) ? '1' : '0';
    return std::make_pair(out, w.buggify_fired());
  };
  auto a = decisions(5), b = decisions(5);
  EXPECT_EQ(a, b);
  EXPECT_NEAR(static_cast<double>(a.second) / 1000, 0.3, 0.06);
}
