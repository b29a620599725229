// The agent: the composition root that wires the subsystems onto one node's HAL.
//
// An Agent owns every subsystem that exists so far -- the HTTP API on TCP and on the owner-only
// Unix socket, the node's identity, its health -- and runs them on the hal::Env, event loop and
// executor it is given: in the binary a PosixEnv, a Loop and a WorkerPool that cli.cc makes; in
// the simulator a node's env, the loop the World drives and its deterministic executor. Later issues
// add gossip, consensus, the catalog, DNS and the supervisor here, each as a member built in
// start() and torn down in the reverse order.
//
// Health: /v1/agent/health answers 200 while every health source passes and 503 listing the
// failing ones otherwise; load balancers probe it. Sources are functions registered by the
// subsystems (add_health_source), evaluated on each request, so the answer is never stale.
//
// Threading: everything runs on the loop's thread; stop() may be called from any thread.
// Ownership: the Agent borrows the Env, Loop, Executor and Logger (they outlive it) and owns the
// rest.
// Not here: argument parsing and config loading (cli.h), the first-process duties (boot/).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "agent/base/log.h"
#include "agent/base/status.h"
#include "agent/catalog/anti_entropy.h"
#include "agent/catalog/catalog_api.h"
#include "agent/catalog/local.h"
#include "agent/catalog/view.h"
#include "agent/config/config.h"
#include "agent/dns/server/server.h"
#include "agent/http/router.h"
#include "agent/http/server.h"
#include "agent/image/image_api.h"
#include "agent/image/store.h"
#include "agent/kv/kv_api.h"
#include "agent/main/boot_server.h"
#include "agent/main/membership.h"
#include "agent/server/forward.h"
#include "agent/server/raft_host.h"
#include "agent/supervisor/supervisor.h"
#include "agent/runtime/loop.h"
#include "agent/runtime/worker_pool.h"
#include "hal/env.h"

namespace agent {

// The node-level check that carries this agent's own health into its catalog entry.
inline constexpr std::string_view kSelfCheckId = "agentHealth";
// How long a catalog node must be missing from gossip's members before the leader removes it.
inline constexpr base::Duration kCatalogReapGrace = base::Duration::seconds(15);

struct HealthResult {
  bool passing = true;
  std::string output;  // why, in a short sentence; shown in /v1/agent/health
};

class Agent {
 public:
  using HealthSource = std::function<HealthResult()>;

  Agent(hal::Env& env, runtime::Loop& loop, runtime::Executor& executor, config::Config config,
        base::Logger& log);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Makes the data directory, loads or creates the node id, opens the listeners and starts the
  // subsystems. On error nothing is left listening; the Status names what failed.
  [[nodiscard]] base::Status start();
  // Runs the loop until stop() or SIGINT/SIGTERM, then shuts down cleanly: listeners closed,
  // the socket file removed. (In the simulator the World drives the loop instead; it calls
  // shutdown() or just destroys the Agent.)
  [[nodiscard]] base::Status run();
  // Thread-safe: asks run() to return.
  void stop();
  // Closes listeners and the socket file, answers waiting followers. Idempotent.
  void shutdown();
  // SIGINT or SIGTERM arrived (the loop was asked to stop).
  bool stop_requested() const { return stop_requested_; }

  void add_health_source(std::string name, HealthSource source);

  runtime::Loop& loop() { return loop_; }
  // Where subsystems send blocking work (SQLite commits, image unpacking).
  runtime::Executor& executor() { return executor_; }
  const config::Config& config() const { return config_; }
  const std::string& node_id() const { return node_id_; }
  Membership* membership() { return membership_.get(); }
  // Server mode's Raft host; null on a client agent.
  server::RaftHost* raft() { return raft_.get(); }
  // The bound HTTP address (useful when ports.http is 0).
  base::Result<hal::SockAddr> http_addr() const;

 private:
  void add_routes();
  void handle_dns(http::Request& req, http::Responder resp);
  void handle_self(http::Request& req, http::Responder resp);
  void handle_health(http::Request& req, http::Responder resp);
  void handle_logs(http::Request& req, http::Responder resp);
  void on_log_appended();
  void answer_log_waiters(bool timed_out_only);
  base::Status load_node_id();
  base::Status open_signals();
  void on_signal();
  base::Status start_server();
  base::Status start_forwarder();
  void on_member(const gossip::Member& m);
  base::Status start_dns();
  dns::View dns_view();

  hal::Env& env_;
  config::Config config_;
  base::Logger& log_;
  runtime::Loop& loop_;
  runtime::Executor& executor_;
  http::Router router_;
  std::unique_ptr<http::Server> http_;
  std::unique_ptr<Membership> membership_;
  std::unique_ptr<server::RaftHost> raft_;
  std::unique_ptr<kv::KvApi> kv_api_;
  // Client agents: the RPC identity (if configured) and the forwarder of the servers' API.
  std::unique_ptr<hal::tls::TlsConfig> client_tls_;
  std::unique_ptr<server::Forwarder> forwarder_;
  // The services registered on this node (PUT /v1/agent/service/register).
  std::unique_ptr<catalog::LocalServices> services_;
  // The allocations this node runs (static jobs from its config today).
  std::unique_ptr<supervisor::Supervisor> supervisor_;
  // The node's container images (<data_dir>/images) and their API; loads in flight share the store.
  std::shared_ptr<image::ImageStore> images_;
  std::unique_ptr<image::ImageApi> image_api_;
  std::unique_ptr<BootServer> boot_server_;  // with boot.dir
  // Servers: the catalog and health API over the state store. Every agent: the push of its
  // services and checks to it.
  std::unique_ptr<catalog::CatalogApi> catalog_api_;
  std::unique_ptr<catalog::AntiEntropy> anti_entropy_;
  std::unique_ptr<catalog::CatalogView> catalog_view_;  // followed only with DNS on
  // Servers, while leader: the serfHealth each member's gossip state calls for, as last proposed
  // (so a reconcile proposes only changes; cleared when leadership is lost).
  // What the leader last proposed for each member's catalog entry.
  enum class NodeVerdict : uint8_t { kPassing, kCritical, kDeregister };
  std::map<std::string, NodeVerdict> node_health_proposed_;
  // Catalog nodes missing from gossip's member list, since when (reap_catalog_nodes).
  std::map<std::string, base::MonoTime> catalog_absent_since_;
  runtime::TimerId node_health_timer_ = runtime::kNoTimer;
  runtime::TimerId self_check_timer_ = runtime::kNoTimer;
  void reconcile_node_health(const gossip::Member& m);
  std::function<void(http::Request, std::function<void(http::Response)>)> self_dispatch();
  void reconcile_all_node_health();
  void update_self_check();
  void reap_catalog_nodes();
  void set_self_check(bool push_starting);
  // DNS (dns.enabled): the server and its view, the gossip members rebuilt at most once a second.
  std::unique_ptr<dns::Server> dns_;
  std::vector<std::string> dns_names_;
  std::vector<dns::NodeEntry> dns_nodes_;
  std::vector<dns::Instance> dns_instances_;       // this node's registered services
  std::vector<std::string_view> dns_instance_tags_;  // their tags, each instance a span of it
  uint64_t dns_services_version_ = 0;
  uint64_t dns_catalog_version_ = 0;
  base::MonoTime dns_view_at_;
  bool dns_view_built_ = false;
  base::Status fatal_;  // why the agent stopped itself (a storage failure)
  std::vector<std::pair<std::string, HealthSource>> health_;
  std::string node_id_;
  base::MonoTime started_mono_;
  base::WallTime started_wall_;
  hal::Handle signals_ = hal::kInvalidHandle;
  bool socket_listening_ = false;
  bool stop_requested_ = false;

  // Long-poll readers of /v1/agent/logs waiting for records after `after_seq`.
  struct LogWaiter {
    uint64_t after_seq;
    base::LogLevel level;
    size_t limit;
    base::MonoTime deadline;
    http::Responder responder;
  };
  std::vector<LogWaiter> log_waiters_;
  // Mirrors !log_waiters_.empty() for the logger's hook, which runs on any thread: lines logged
  // while nobody follows cost no wake-up.
  std::atomic<bool> log_followed_{false};
  runtime::TimerId log_waiter_timer_ = runtime::kNoTimer;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace agent
