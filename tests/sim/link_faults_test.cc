// Link faults happen at the configured rates and within the configured bounds: loss, delay,
// duplication, reordering; and partitions (two-way, one-way, heal) cut exactly what they say.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "sim_helpers.h"

using base::Duration;
using base::MonoTime;

namespace {

constexpr uint16_t kPort = 9000;

// A datagram the tests send: a sequence number and the virtual send time.
struct Arrival {
  uint64_t seq;
  int64_t sent_ns;
  int64_t arrived_ns;
  sim::NodeId from;
};

// Records every datagram that reaches its node's port kPort.
class Recorder final : public sim::Process {
 public:
  Recorder(sim::Node& node, std::vector<Arrival>* out) : node_(node), out_(out) {
    auto h = node.env().net->udp_open(hal::SockAddr::ipv4(0, 0, 0, 0, kPort));
    AGENT_ASSERT(h.is_ok());
    h_ = *h;
    AGENT_ASSERT(node.loop().watch(h_, hal::kReadable, [this](uint8_t) { on_read(); }).is_ok());
  }
  ~Recorder() override {
    node_.loop().unwatch(h_);
    node_.env().net->close(h_);
  }

 private:
  void on_read() {
    uint8_t buf[32];
    hal::SockAddr from;
    while (true) {
      auto r = node_.env().net->udp_recv(h_, buf, &from);
      if (!r.is_ok()) return;
      AGENT_ASSERT(*r == 16);
      base::ByteReader rd(base::ByteSpan(buf, 16));
      Arrival a;
      a.seq = rd.u64();
      a.sent_ns = rd.i64();
      a.arrived_ns = node_.loop().now().ns();
      a.from = from.ip[3] - 1;  // 10.0.0.(id+1)
      out_->push_back(a);
    }
  }
  sim::Node& node_;
  std::vector<Arrival>* out_;
  hal::Handle h_;
};

sim::StartFn recorder(std::vector<Arrival>* out) {
  return [out](sim::Node& n) -> std::unique_ptr<sim::Process> { return std::make_unique<Recorder>(n, out); };
}

// Schedules `count` datagrams from `from` to `to`, one every `gap`, starting now.
void blast(sim::World& w, sim::NodeId from, sim::NodeId to, uint64_t count, Duration gap, uint64_t seq_base = 0) {
  hal::Net& net = *w.node(from).env().net;
  auto h = net.udp_open(hal::SockAddr::ipv4(0, 0, 0, 0, 0));
  AGENT_ASSERT(h.is_ok());
  const hal::Handle sock = *h;
  const hal::SockAddr dst = w.node(to).address(kPort);
  for (uint64_t i = 0; i < count; ++i) {
    w.after(gap * static_cast<int64_t>(i), [&w, &net, sock, dst, i, seq_base] {
      std::string msg;
      base::ByteWriter wr(&msg, 16);
      wr.u64(seq_base + i);
      wr.i64(w.now().ns());
      AGENT_ASSERT(net.udp_send(sock, dst, base::as_bytes(msg)).is_ok());
    });
  }
}

}  // namespace

// 20% loss over 20000 datagrams per seed: the observed rate is within 4 standard deviations of
// 0.2 (sd = sqrt(p(1-p)/n) = 0.0028), and the receiver gets exactly what was not dropped.
TEST(LinkFaults, LossHappensAtTheConfiguredRate) {
  for (uint64_t seed : sim::test_seeds(3)) {
    WEFT_SIM_SEED_SCOPE(seed);
    sim::SimConfig cfg;
    cfg.link.loss_probability = 0.2;
    sim::World w(seed, cfg);
    std::vector<Arrival> got;
    sim::NodeId a = w.add_node("a");
    sim::NodeId b = w.add_node("b", recorder(&got));
    constexpr uint64_t kN = 20000;
    blast(w, a, b, kN, Duration::micros(10));
    w.run_for(Duration::seconds(1));
    const double lost = static_cast<double>(w.stats().dropped(sim::DropReason::kLoss));
    const double rate = lost / kN;
    const double sd = std::sqrt(0.2 * 0.8 / kN);
    printf("seed %llu: loss rate %.4f over %llu datagrams (configured 0.2000, 4 sd = %.4f)\n",
           static_cast<unsigned long long>(seed), rate, static_cast<unsigned long long>(kN), 4 * sd);
    EXPECT_NEAR(rate, 0.2, 4 * sd);
    EXPECT_EQ(w.stats().datagrams_sent, kN);
    EXPECT_EQ(got.size(), kN - static_cast<uint64_t>(lost));
    EXPECT_EQ(w.stats().dropped_total(), static_cast<uint64_t>(lost));
    simtest::report_failure(w);
  }
}

// Every arrival lies within [delay_min, delay_max] of its send; duplicates occur at the
// configured rate and are exact copies; with zero duplication nothing arrives twice.
TEST(LinkFaults, DuplicationRateAndDelayBoundsHold) {
  for (uint64_t seed : sim::test_seeds(3)) {
    WEFT_SIM_SEED_SCOPE(seed);
    sim::SimConfig cfg;
    cfg.link.duplicate_probability = 0.1;
    cfg.link.delay_min = Duration::millis(1);
    cfg.link.delay_max = Duration::millis(5);
    sim::World w(seed, cfg);
    std::vector<Arrival> got;
    sim::NodeId a = w.add_node("a");
    sim::NodeId b = w.add_node("b", recorder(&got));
    constexpr uint64_t kN = 10000;
    blast(w, a, b, kN, Duration::micros(20));
    w.run_for(Duration::seconds(1));
    std::map<uint64_t, int> copies;
    int64_t min_delay = INT64_MAX, max_delay = 0;
    for (const auto& x : got) {
      ++copies[x.seq];
      min_delay = std::min(min_delay, x.arrived_ns - x.sent_ns);
      max_delay = std::max(max_delay, x.arrived_ns - x.sent_ns);
    }
    EXPECT_EQ(copies.size(), kN);  // nothing lost
    uint64_t dup = 0;
    for (auto& [seq, n] : copies) {
      EXPECT_LE(n, 2);
      dup += n == 2;
    }
    EXPECT_EQ(dup, w.stats().datagrams_duplicated);
    const double rate = static_cast<double>(dup) / kN;
    printf("seed %llu: duplication rate %.4f (configured 0.1), delay %.3f..%.3f ms (configured 1..5)\n",
           static_cast<unsigned long long>(seed), rate, min_delay / 1e6, max_delay / 1e6);
    EXPECT_NEAR(rate, 0.1, 4 * std::sqrt(0.1 * 0.9 / kN));
    EXPECT_GE(min_delay, Duration::millis(1).ns());
    EXPECT_LE(max_delay, Duration::millis(5).ns());
    // The bounds are approached, not just respected: the delay is really spread.
    EXPECT_LT(min_delay, Duration::micros(1100).ns());
    EXPECT_GT(max_delay, Duration::micros(4900).ns());
    simtest::report_failure(w);
  }
}

// Datagrams sent 10 us apart with delays drawn from 1..5 ms arrive out of order; with a fixed
// delay (min == max) they never do -- the reordering comes from the delay spread alone.
TEST(LinkFaults, ReorderingIsObservedWhenDelaysSpread) {
  auto inversions = [](uint64_t seed, Duration lo, Duration hi) {
    sim::SimConfig cfg;
    cfg.link.delay_min = lo;
    cfg.link.delay_max = hi;
    sim::World w(seed, cfg);
    std::vector<Arrival> got;
    sim::NodeId a = w.add_node("a");
    sim::NodeId b = w.add_node("b", recorder(&got));
    blast(w, a, b, 1000, Duration::micros(10));
    w.run_for(Duration::seconds(1));
    EXPECT_EQ(got.size(), 1000u);
    uint64_t inv = 0;
    for (size_t i = 1; i < got.size(); ++i) inv += got[i].seq < got[i - 1].seq;
    return inv;
  };
  for (uint64_t seed : sim::test_seeds(3)) {
    WEFT_SIM_SEED_SCOPE(seed);
    const uint64_t spread = inversions(seed, Duration::millis(1), Duration::millis(5));
    printf("seed %llu: %llu of 1000 arrivals out of order\n", static_cast<unsigned long long>(seed),
           static_cast<unsigned long long>(spread));
    EXPECT_GT(spread, 100u);
    EXPECT_EQ(inversions(seed, Duration::millis(2), Duration::millis(2)), 0u);
  }
}

// Four nodes, everyone sends to everyone; {0,1} | {2,3} two-way: nothing crosses, everything
// inside arrives; after heal() everything arrives again.
TEST(Partitions, TwoWayCutsAcrossButNotInside) {
  for (uint64_t seed : sim::test_seeds(3)) {
    WEFT_SIM_SEED_SCOPE(seed);
    sim::World w(seed);
    std::vector<std::vector<Arrival>> got(4);
    for (int i = 0; i < 4; ++i) w.add_node("n" + std::to_string(i), recorder(&got[i]));
    auto across = [](sim::NodeId x, sim::NodeId y) { return (x < 2) != (y < 2); };
    sim::PartitionId p = w.partition({0, 1}, {2, 3});
    for (sim::NodeId x = 0; x < 4; ++x) {
      for (sim::NodeId y = 0; y < 4; ++y) {
        if (x != y) blast(w, x, y, 100, Duration::micros(100), x * 1000);
      }
    }
    w.run_for(Duration::seconds(1));
    uint64_t crossing_sent = 0;
    for (sim::NodeId y = 0; y < 4; ++y) {
      std::map<sim::NodeId, int> per_sender;
      for (const auto& a : got[y]) ++per_sender[a.from];
      for (sim::NodeId x = 0; x < 4; ++x) {
        if (x == y) continue;
        if (across(x, y)) {
          EXPECT_EQ(per_sender[x], 0) << x << "->" << y;
          crossing_sent += 100;
        } else {
          EXPECT_EQ(per_sender[x], 100) << x << "->" << y;
        }
      }
    }
    EXPECT_EQ(w.stats().dropped(sim::DropReason::kPartition), crossing_sent);
    // Heal: the same traffic flows everywhere.
    EXPECT_TRUE(w.heal(p));
    EXPECT_FALSE(w.heal(p));
    for (auto& g : got) g.clear();
    for (sim::NodeId x = 0; x < 4; ++x) {
      for (sim::NodeId y = 0; y < 4; ++y) {
        if (x != y) blast(w, x, y, 100, Duration::micros(100), x * 1000);
      }
    }
    w.run_for(Duration::seconds(1));
    for (sim::NodeId y = 0; y < 4; ++y) EXPECT_EQ(got[y].size(), 300u);
    EXPECT_EQ(w.stats().dropped(sim::DropReason::kPartition), crossing_sent);
    simtest::report_failure(w);
  }
}

// partition_oneway(0 -> 1): 0's datagrams to 1 are dropped, 1's to 0 arrive, 2 is unaffected.
TEST(Partitions, OneWayCutsOnlyOneDirection) {
  sim::World w(5);
  std::vector<std::vector<Arrival>> got(3);
  for (int i = 0; i < 3; ++i) w.add_node("n" + std::to_string(i), recorder(&got[i]));
  sim::PartitionId p = w.partition_oneway({0}, {1});
  blast(w, 0, 1, 50, Duration::micros(100));
  blast(w, 1, 0, 50, Duration::micros(100));
  blast(w, 0, 2, 50, Duration::micros(100));
  blast(w, 2, 1, 50, Duration::micros(100));
  w.run_for(Duration::seconds(1));
  EXPECT_EQ(got[0].size(), 50u);   // from 1
  EXPECT_EQ(got[1].size(), 50u);   // from 2 only
  for (const auto& a : got[1]) EXPECT_EQ(a.from, 2u);
  EXPECT_EQ(got[2].size(), 50u);
  EXPECT_EQ(w.stats().dropped(sim::DropReason::kPartition), 50u);
  w.heal(p);
  blast(w, 0, 1, 50, Duration::micros(100));
  w.run_for(Duration::seconds(1));
  EXPECT_EQ(got[1].size(), 100u);
}

// A partition made while datagrams are in flight cuts them too (checked again on arrival).
TEST(Partitions, CutsDatagramsAlreadyInFlight) {
  sim::SimConfig cfg;
  cfg.link.delay_min = Duration::millis(10);
  cfg.link.delay_max = Duration::millis(10);
  sim::World w(9, cfg);
  std::vector<Arrival> got;
  sim::NodeId a = w.add_node("a");
  sim::NodeId b = w.add_node("b", recorder(&got));
  blast(w, a, b, 10, Duration::micros(10));
  w.run_for(Duration::millis(5));
  w.partition({a}, {b});
  w.run_for(Duration::millis(50));
  EXPECT_EQ(got.size(), 0u);
  EXPECT_EQ(w.stats().dropped(sim::DropReason::kPartition), 10u);
}

// Per-link faults override the default for that direction only.
TEST(LinkFaults, PerLinkOverride) {
  sim::World w(4);
  std::vector<std::vector<Arrival>> got(3);
  for (int i = 0; i < 3; ++i) w.add_node("n" + std::to_string(i), recorder(&got[i]));
  sim::LinkFaults lossy;
  lossy.loss_probability = 1.0;
  w.set_link_faults(0, 1, lossy);
  blast(w, 0, 1, 100, Duration::micros(50));
  blast(w, 0, 2, 100, Duration::micros(50));
  blast(w, 1, 0, 100, Duration::micros(50));
  w.run_for(Duration::seconds(1));
  EXPECT_EQ(got[1].size(), 0u);
  EXPECT_EQ(got[2].size(), 100u);
  EXPECT_EQ(got[0].size(), 100u);
  w.clear_link_faults(0, 1);
  blast(w, 0, 1, 100, Duration::micros(50));
  w.run_for(Duration::seconds(1));
  EXPECT_EQ(got[1].size(), 100u);
}
