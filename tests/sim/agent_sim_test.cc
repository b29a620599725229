// The agent's composition root runs unchanged on a simulated node: its HTTP API answers over the
// simulated network, its node id survives a crash on the durable disk, it goes unhealthy when its
// data directory disappears, it takes SIGTERM, and a seed replays it exactly. This is the seam
// later issues use to run fleets of whole agents under faults.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "agent/base/log.h"
#include "agent/config/config.h"
#include "agent/http/client.h"
#include "agent/main/agent.h"
#include "hal/sim/world.h"
#include "sim_helpers.h"

using base::Duration;

namespace {

constexpr uint16_t kHttpPort = 7700;

struct AgentProcess : sim::Process {
  base::Logger log{64 * 1024};
  std::unique_ptr<agent::Agent> agent;
  base::Status started;
};

sim::StartFn agent_process() {
  return [](sim::Node& node) -> std::unique_ptr<sim::Process> {
    auto p = std::make_unique<AgentProcess>();
    p->log.set_clock([&node] { return node.clock().wall_now(); });
    config::LoadInputs in;
    in.fs = node.env().fs;
    in.config_paths = {};
    in.hostname = node.name();
    // A client agent: server mode opens SQLite databases, which reach the simulated disk only
    // through the simulator's SQLite VFS (hal::Env::sqlite_vfs) -- not wired into this test yet.
    in.flags = {"-data_dir=/var/lib/agent",
                "-socket_path=/run/agent/agent.sock",
                "-client_addr=" + node.address(0).host_string()};
    auto cfg = config::load(in);
    AGENT_ASSERT_MSG(cfg.is_ok(), cfg.status().message().c_str());
    p->agent = std::make_unique<agent::Agent>(node.env(), node.loop(), node.executor(), std::move(cfg).value(), p->log);
    p->started = p->agent->start();
    return p;
  };
}

// GET `target` from node `from` to node `to`'s API, stepping the world until the response is in.
base::Result<http::ClientResponse> sim_get(sim::World& w, sim::NodeId from, sim::NodeId to, const std::string& target) {
  hal::Net& net = *w.node(from).env().net;
  auto h = net.connect(w.node(to).address(kHttpPort));
  if (!h.is_ok()) return h.status();
  if (!w.run_for([&] { return net.connect_result(*h).code() != base::Code::kUnavailable; }, Duration::seconds(5)) ||
      !net.connect_result(*h).is_ok()) {
    net.close(*h);
    return base::error(base::Code::kIo, "connect failed");
  }
  http::ClientRequest req;
  req.target = target;
  std::string bytes;
  http::write_request(req, &bytes);
  size_t written = 0;
  http::ResponseParser parser;
  bool eof = false;
  bool done = w.run_for(
      [&] {
        while (written < bytes.size()) {
          auto n = net.write(*h, base::as_bytes(std::string_view(bytes).substr(written)));
          if (!n.is_ok()) break;
          written += *n;
        }
        uint8_t buf[4096];
        for (;;) {
          auto n = net.read(*h, std::span<uint8_t>(buf, sizeof buf));
          if (!n.is_ok()) break;
          if (*n == 0) {
            eof = true;
            parser.finish_eof();
            break;
          }
          parser.feed(std::string_view(reinterpret_cast<const char*>(buf), *n));
        }
        return parser.complete() || parser.failed() || eof;
      },
      Duration::seconds(5));
  net.close(*h);
  if (!done || !parser.complete()) return base::error(base::Code::kIo, "no complete response");
  return parser.take();
}

AgentProcess& agent_of(sim::World& w, sim::NodeId id) { return w.node(id).process_as<AgentProcess>(); }

}  // namespace

TEST(AgentSim, ServesHealthKeepsNodeIdAcrossCrashAndGoesUnhealthyWithoutDataDir) {
  for (uint64_t seed : sim::test_seeds(5)) {
    WEFT_SIM_SEED_SCOPE(seed);
    sim::World w(seed);
    sim::NodeId a = w.add_node("n0", agent_process());
    sim::NodeId client = w.add_node("client");
    ASSERT_TRUE(agent_of(w, a).started.is_ok()) << agent_of(w, a).started.to_string();

    auto health = sim_get(w, client, a, "/v1/agent/health");
    ASSERT_TRUE(health.is_ok()) << health.status().to_string();
    EXPECT_EQ(health->status, 200) << health->body;
    EXPECT_NE(health->body.find("\"Healthy\":true"), std::string::npos) << health->body;

    auto self = sim_get(w, client, a, "/v1/agent/self");
    ASSERT_TRUE(self.is_ok());
    const std::string id = agent_of(w, a).agent->node_id();
    ASSERT_EQ(id.size(), 36u);
    EXPECT_NE(self->body.find("\"NodeName\":\"n0\""), std::string::npos);
    EXPECT_NE(self->body.find(id), std::string::npos);

    // The node id was written durably: a crash (which drops unsynced writes) keeps it.
    w.crash(a);
    w.run_for(Duration::seconds(1));
    w.restart(a);
    ASSERT_TRUE(agent_of(w, a).started.is_ok()) << agent_of(w, a).started.to_string();
    EXPECT_EQ(agent_of(w, a).agent->node_id(), id);

    // Without its data directory the agent reports unhealthy, with the reason.
    ASSERT_TRUE(w.node(a).fs().remove_tree("/var/lib/agent").is_ok());
    health = sim_get(w, client, a, "/v1/agent/health");
    ASSERT_TRUE(health.is_ok());
    EXPECT_EQ(health->status, 503);
    EXPECT_NE(health->body.find("data_dir"), std::string::npos) << health->body;

    // SIGTERM asks the agent to stop.
    EXPECT_FALSE(agent_of(w, a).agent->stop_requested());
    EXPECT_EQ(w.raise_signal(a, hal::Signal::kTerminate), 1u);
    ASSERT_TRUE(w.run_for([&] { return agent_of(w, a).agent->stop_requested(); }, Duration::seconds(1)));
    simtest::report_failure(w);
  }
}

TEST(AgentSim, SameSeedSameTraceWithAgents) {
  auto run = [](uint64_t seed) {
    sim::World w(seed);
    sim::LinkFaults faults;
    faults.loss_probability = 0.05;
    faults.delay_min = Duration::millis(1);
    faults.delay_max = Duration::millis(20);
    w.set_link_faults(faults);
    sim::NodeId a = w.add_node("n0", agent_process());
    sim::NodeId client = w.add_node("client");
    int ok = 0;
    for (int i = 0; i < 10; ++i) {
      auto r = sim_get(w, client, a, "/v1/agent/health");
      ok += r.is_ok() && r->status == 200;
    }
    EXPECT_GT(ok, 0);
    return w.trace_hash();
  };
  for (uint64_t seed : sim::test_seeds(3)) {
    WEFT_SIM_SEED_SCOPE(seed);
    EXPECT_EQ(run(seed), run(seed));
  }
  EXPECT_NE(run(1), run(2));
}
