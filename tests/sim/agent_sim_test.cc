// The agent's composition root runs unchanged on a simulated node: its HTTP API answers over the
// simulated network, its node id survives a crash on the durable disk, it goes unhealthy when its
// data directory disappears, it takes SIGTERM, and a seed replays it exactly. This is the seam
// later issues use to run fleets of whole agents under faults.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "agent/base/log.h"
#include "agent/config/config.h"
#include "agent/http/client.h"
#include "agent/main/agent.h"
#include "agent/server/raft_host.h"
#include "hal/sim/world.h"
#include "hal/tls.h"
#include "sim_helpers.h"

using base::Duration;

namespace {

constexpr uint16_t kHttpPort = 7700;

struct AgentProcess : sim::Process {
  base::Logger log{64 * 1024};
  std::unique_ptr<agent::Agent> agent;
  base::Status started;
};

// One CA and server certificate for every simulated server of the process (made once, so two
// runs of a seed see the same files).
const hal::tls::Identity& sim_identity() {
  static const hal::tls::Identity id = [] {
    hal::tls::CertSpec spec{"sim-ca", 0, 4102444800};  // 1970 .. 2100
    auto ca = hal::tls::make_ca(spec).value();
    spec.common_name = "server.dc1.weft";
    auto cert = hal::tls::make_node_cert(ca, spec).value();
    return hal::tls::Identity{ca.cert_pem, cert.cert_pem, cert.key_pem};
  }();
  return id;
}

// A foundation: server mode, a one-server cluster unless `extra` says otherwise (flags after the
// defaults win), its databases on the node's simulated disk (hal::Env::sqlite_vfs), so a crash
// loses what a power cut would.
sim::StartFn server_process(std::vector<std::string> extra = {}) {
  return [extra](sim::Node& node) -> std::unique_ptr<sim::Process> {
    auto p = std::make_unique<AgentProcess>();
    p->log.set_clock([&node] { return node.clock().wall_now(); });
    hal::Fs& fs = *node.env().fs;
    const hal::tls::Identity& id = sim_identity();
    AGENT_ASSERT(fs.make_dirs("/etc/weft", 0700).is_ok());
    AGENT_ASSERT(fs.write_file("/etc/weft/ca.pem", base::as_bytes(id.ca_pem), 0600, true).is_ok());
    AGENT_ASSERT(fs.write_file("/etc/weft/cert.pem", base::as_bytes(id.cert_pem), 0600, true).is_ok());
    AGENT_ASSERT(fs.write_file("/etc/weft/key.pem", base::as_bytes(id.key_pem), 0600, true).is_ok());
    config::LoadInputs in;
    in.fs = node.env().fs;
    in.config_paths = {};
    in.hostname = node.name();
    in.flags = {"-server", "-bootstrap_expect=1", "-data_dir=/var/lib/agent", "-socket_path=/run/agent/agent.sock",
                "-client_addr=" + node.address(0).host_string(), "-tls.ca_file=/etc/weft/ca.pem",
                "-tls.cert_file=/etc/weft/cert.pem", "-tls.key_file=/etc/weft/key.pem"};
    in.flags.insert(in.flags.end(), extra.begin(), extra.end());
    auto cfg = config::load(in);
    AGENT_ASSERT_MSG(cfg.is_ok(), cfg.status().message().c_str());
    p->agent = std::make_unique<agent::Agent>(node.env(), node.loop(), node.executor(), std::move(cfg).value(), p->log);
    p->started = p->agent->start();
    return p;
  };
}

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

// `method` `target` from node `from` to node `to`'s API, stepping the world until the response is in.
base::Result<http::ClientResponse> sim_call(sim::World& w, sim::NodeId from, sim::NodeId to, const std::string& method,
                                            const std::string& target, const std::string& body = "") {
  hal::Net& net = *w.node(from).env().net;
  auto h = net.connect(w.node(to).address(kHttpPort));
  if (!h.is_ok()) return h.status();
  if (!w.run_for([&] { return net.connect_result(*h).code() != base::Code::kUnavailable; }, Duration::seconds(5)) ||
      !net.connect_result(*h).is_ok()) {
    net.close(*h);
    return base::error(base::Code::kIo, "connect failed");
  }
  http::ClientRequest req;
  req.method = method;
  req.target = target;
  req.body = body;
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

base::Result<http::ClientResponse> sim_get(sim::World& w, sim::NodeId from, sim::NodeId to, const std::string& target) {
  return sim_call(w, from, to, "GET", target);
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

namespace {

// A simulated foundation takes KV writes, has its wall clock jumped, and is crashed three times; a
// crash loses every unsynced write on its simulated disk. Returns how many acknowledged writes are missing afterwards (or, if
// the agent could not start again or elect itself, every one of them), and how many were
// acknowledged. With `lying_disk` the disk acknowledges fsync without making anything durable.
struct CrashRun {
  size_t acked = 0;
  size_t lost = 0;
};
CrashRun run_server_crashes(uint64_t seed, bool lying_disk) {
  CrashRun out;
  sim::World w(seed);
  sim::NodeId a = w.add_node("n0", server_process());
  sim::NodeId client = w.add_node("client");
  if (lying_disk) w.node(a).fs().lie_about_syncs(true);
  auto leader = [&] {
    if (!agent_of(w, a).started.is_ok()) return false;
    auto* host = agent_of(w, a).agent->raft();
    return host != nullptr && host->core() != nullptr && host->core()->role() == raft::Role::kLeader;
  };
  std::vector<std::string> acked;
  bool up = w.run_for(leader, Duration::seconds(10));
  for (int round = 0; round < 3 && up; ++round) {
    // Wall-clock jumps (NTP, an operator) either way: Raft runs on the monotonic clock only, so
    // elections and commits go on as if nothing happened.
    w.jump_wall_clock(a, round % 2 == 0 ? Duration::seconds(7200) : Duration::seconds(-10800));
    for (int i = 0; i < 10; ++i) {
      std::string key = "k" + std::to_string(round) + "-" + std::to_string(i);
      auto r = sim_call(w, client, a, "PUT", "/v1/kv/" + key, "v-" + key);
      if (r.is_ok() && r->status == 200 && r->body == "true") acked.push_back(key);
    }
    w.crash(a);
    w.run_for(Duration::seconds(1));
    w.restart(a);
    up = w.run_for(leader, Duration::seconds(10));
  }
  out.acked = acked.size();
  if (!up) {
    out.lost = acked.size();
    return out;
  }
  for (const auto& key : acked) {
    auto r = sim_get(w, client, a, "/v1/kv/" + key + "?raw");
    if (!r.is_ok() || r->status != 200 || r->body != "v-" + key) ++out.lost;
  }
  simtest::report_failure(w);
  return out;
}

}  // namespace

// A simulated foundation (server mode, its SQLite databases on the node's simulated disk through
// hal::Env::sqlite_vfs) keeps every acknowledged KV write across crashes: the Raft log is synced
// before the answer, and the state is rebuilt from the log or was synced itself.
TEST(AgentSim, ServerKeepsAcknowledgedKvWritesAcrossCrashes) {
  for (uint64_t seed : sim::test_seeds(3)) {
    WEFT_SIM_SEED_SCOPE(seed);
    CrashRun r = run_server_crashes(seed, /*lying_disk=*/false);
    EXPECT_GE(r.acked, 20u);
    EXPECT_EQ(r.lost, 0u);
  }
}

// Negative control: the same run on a disk whose fsync lies loses acknowledged writes, and the
// test above would see it.
TEST(AgentSim, NegativeControlALyingDiskLosesAcknowledgedWrites) {
  size_t lost = 0;
  for (uint64_t seed : sim::test_seeds(3)) {
    WEFT_SIM_SEED_SCOPE(seed);
    lost += run_server_crashes(seed, /*lying_disk=*/true).lost;
  }
  EXPECT_GT(lost, 0u) << "a disk that drops synced writes went unnoticed";
}

namespace {

// The leader's core among the given servers, or nullptr.
const raft::RaftCore* leader_core(sim::World& w, const std::vector<sim::NodeId>& servers) {
  for (sim::NodeId id : servers) {
    if (!w.node(id).up()) continue;
    auto& p = agent_of(w, id);
    if (!p.started.is_ok()) continue;
    auto* host = p.agent->raft();
    if (host != nullptr && host->core() != nullptr && host->core()->role() == raft::Role::kLeader) return host->core();
  }
  return nullptr;
}

raft::ServerId raft_id(sim::World& w, sim::NodeId id) { return server::server_id_of(agent_of(w, id).agent->node_id()); }

}  // namespace

// Chapter 4 through whole agents (the autopilot in server/raft_host.cc): three simulated
// foundations form with bootstrap_expect=3 over gossip; a fourth with the same bootstrap_expect
// does not bootstrap, is added as a non-voter (seen as one) and promoted after the stabilization
// time; a crashed voter is removed by the leader once gossip reported it failed for the grace,
// and a write through the leader is acknowledged with the three voters left.
TEST(AgentSim, FoundationsJoinAsNonVotersAndDeadOnesAreRemoved) {
  for (uint64_t seed : sim::test_seeds(2)) {
    WEFT_SIM_SEED_SCOPE(seed);
    sim::World w(seed);
    const std::vector<std::string> common = {"-bootstrap_expect=3", "-gossip.profile=local",
                                             "-autopilot.server_stabilization_time=2s",
                                             "-autopilot.dead_server_grace=2s"};
    std::vector<sim::NodeId> servers;
    servers.push_back(w.add_node("s0", server_process(common)));
    std::vector<std::string> joining = common;
    joining.push_back("-retry_join=" + w.node(servers[0]).address(7702).to_string());
    servers.push_back(w.add_node("s1", server_process(joining)));
    servers.push_back(w.add_node("s2", server_process(joining)));
    sim::NodeId client = w.add_node("client");
    auto voters_are = [&](size_t n) {
      const raft::RaftCore* l = leader_core(w, servers);
      return l != nullptr && l->membership().voters.size() == n && l->membership().learners.empty() &&
             l->membership_index() <= l->commit_index();
    };
    ASSERT_TRUE(w.run_for([&] { return voters_are(3); }, Duration::seconds(30))) << "three servers never formed";

    servers.push_back(w.add_node("s3", server_process(joining)));
    const raft::ServerId s3 = raft_id(w, servers[3]);
    bool seen_as_learner = false;
    const bool promoted = w.run_for(
        [&] {
          const raft::RaftCore* l = leader_core(w, servers);
          if (l != nullptr && l->is_learner(s3)) seen_as_learner = true;
          return l != nullptr && l->is_voter(s3) && voters_are(4);
        },
        Duration::seconds(30));
    ASSERT_TRUE(promoted) << "s3 was never promoted";
    EXPECT_TRUE(seen_as_learner) << "s3 became a voter without being a non-voter first";
    EXPECT_FALSE(w.node(servers[3]).fs().file_exists("/var/lib/agent/raft/voters")) << "s3 bootstrapped";

    // Crash a voter other than the leader; it must be removed after the grace.
    const raft::ServerId leader = leader_core(w, servers)->id();
    sim::NodeId victim = servers[0];
    for (sim::NodeId id : servers) {
      if (raft_id(w, id) != leader) victim = id;
    }
    const raft::ServerId dead = raft_id(w, victim);
    w.crash(victim);
    const bool removed = w.run_for(
        [&] {
          const raft::RaftCore* l = leader_core(w, servers);
          return l != nullptr && !l->is_voter(dead) && !l->is_learner(dead) && voters_are(3);
        },
        Duration::seconds(60));
    ASSERT_TRUE(removed) << "the crashed voter was never removed";
    sim::NodeId via = servers[0];
    for (sim::NodeId id : servers) {
      if (w.node(id).up() && raft_id(w, id) == leader_core(w, servers)->id()) via = id;
    }
    auto r = sim_call(w, client, via, "PUT", "/v1/kv/after-removal", "yes");
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    EXPECT_EQ(r->body, "true");
    simtest::report_failure(w);
  }
}
