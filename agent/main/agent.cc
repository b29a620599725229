#include "agent/main/agent.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <utility>

#include "agent/base/version.h"
#include "agent/config/parse.h"
#include "agent/dns/describe.h"
#include "agent/dns/writer.h"
#include "agent/http/json.h"
#include "agent/server/identity.h"
#include "cJSON.h"

namespace agent {

namespace {

constexpr std::string_view kModule = "agent";
// Longest ?wait= a log follower may ask for; Consul caps blocking queries at 10 minutes too.
constexpr base::Duration kLogWaitMax = base::Duration::seconds(600);
constexpr base::Duration kLogWaitDefault = base::Duration::seconds(30);
// Records one /v1/agent/logs response carries at most.
constexpr size_t kLogLimitMax = 10000;
// Long-poll followers at once; more get 429 rather than holding memory without bound.
constexpr size_t kLogWaitersMax = 64;

// Parses a Go-style duration as Consul's ?wait= takes it: "30s", "500ms", "2m".
bool parse_wait(std::string_view text, base::Duration* out) {
  int64_t ns = 0;
  if (text.size() > 32 || !config::parse_duration(text, &ns)) return false;
  *out = base::Duration::nanos(ns);
  return true;
}

bool parse_u64(std::string_view text, uint64_t* out) {
  if (text.empty() || text.size() > 19) return false;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

bool valid_uuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (s[i] == '-')) return false;
    if (!dash && !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
  }
  return true;
}

}  // namespace

Agent::Agent(hal::Env& env, runtime::Loop& loop, runtime::Executor& executor, config::Config config,
             base::Logger& log)
    : env_(env), config_(std::move(config)), log_(log), loop_(loop), executor_(executor) {
  started_mono_ = env_.clock->mono_now();
  started_wall_ = env_.clock->wall_now();
}

Agent::~Agent() {
  log_.set_append_hook(nullptr);
  *alive_ = false;
  shutdown();
}

base::Result<hal::SockAddr> Agent::http_addr() const {
  if (!http_ || http_->listeners() == 0) return base::error(base::Code::kFailedPrecondition, "not listening");
  return http_->listen_addr(0);
}

void Agent::add_health_source(std::string name, HealthSource source) {
  health_.emplace_back(std::move(name), std::move(source));
}

base::Status Agent::load_node_id() {
  std::string path = config_.data_dir + "/node-id";
  auto existing = env_.fs->read_file(path, 128);
  if (existing.is_ok()) {
    std::string id = *existing;
    while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
    if (!valid_uuid(id)) {
      return base::error(base::Code::kInvalidArgument, "%s holds no node id (want a lower-case UUID); remove it to make a new one",
                         path.c_str());
    }
    node_id_ = id;
    return base::Status::ok();
  }
  if (existing.status().code() != base::Code::kNotFound) return existing.status();
  uint8_t b[16];
  AGENT_TRY(env_.entropy->fill(std::span<uint8_t>(b, sizeof b)));
  node_id_ = base::uuid_v4(b);
  std::string text = node_id_ + "\n";
  AGENT_TRY(env_.fs->write_file(path, base::as_bytes(text), 0600, /*durable=*/true));
  AGENT_LOG_INFO(log_, kModule, "new node id %s written to %s", node_id_.c_str(), path.c_str());
  return base::Status::ok();
}

base::Status Agent::open_signals() {
  static constexpr hal::Signal kSignals[] = {hal::Signal::kInterrupt, hal::Signal::kTerminate,
                                             hal::Signal::kHangup};
  AGENT_ASSIGN_OR_RETURN(signals_, env_.signals->open(kSignals));
  return loop_.watch(signals_, hal::kReadable, [this](uint8_t) { on_signal(); });
}

void Agent::on_signal() {
  for (int i = 0; i < 16; ++i) {  // bounded: a signal storm cannot pin the loop here
    auto sig = env_.signals->next(signals_);
    if (!sig.is_ok()) return;
    switch (*sig) {
      case hal::Signal::kInterrupt:
      case hal::Signal::kTerminate:
        AGENT_LOG_INFO(log_, kModule, "received %s, shutting down",
                       *sig == hal::Signal::kInterrupt ? "SIGINT" : "SIGTERM");
        stop_requested_ = true;
        loop_.stop();
        break;
      case hal::Signal::kHangup:
        AGENT_LOG_INFO(log_, kModule,
                       "received SIGHUP: reloading configuration is not supported yet; restart the agent to apply changes");
        break;
      default:
        break;
    }
  }
}

namespace {

// The config files' service definitions, decoded as API registrations are; an error names the
// file and the definition, and so does an ID two of them share.
base::Result<std::vector<catalog::Service>> config_services(const std::vector<config::ServiceDoc>& docs) {
  std::vector<catalog::Service> out;
  std::map<std::string, std::string> origin_of;  // service ID -> its definition's origin
  for (const config::ServiceDoc& d : docs) {
    auto s = catalog::decode_registration(d.json, catalog::kRegistrationBytesMax);
    if (!s.is_ok()) {
      return base::error(base::Code::kInvalidArgument, "configuration error: %s: %s", d.origin.c_str(), s.status().message().c_str());
    }
    auto [it, fresh] = origin_of.emplace(s->id, d.origin);
    if (!fresh) {
      return base::error(base::Code::kInvalidArgument, "configuration error: %s: service ID \"%s\" is also %s's", d.origin.c_str(),
                         s->id.c_str(), it->second.c_str());
    }
    out.push_back(std::move(s).value());
  }
  return out;
}

}  // namespace

// The static jobs: the config files' "jobs" and each *.json file of jobs_dir, decoded and
// checked. Any problem stops the agent with every problem of that job listed, so a node never
// runs half of what its image carries. Job IDs are unique across both.
base::Result<std::vector<sched::Job>> static_jobs(hal::Fs& fs, const config::Config& config) {
  std::vector<config::ServiceDoc> docs = config.jobs;
  if (!config.jobs_dir.empty()) {
    auto names = fs.list_dir(config.jobs_dir);
    if (!names.is_ok()) {
      return base::error(base::Code::kInvalidArgument, "configuration error: jobs_dir %s: %s", config.jobs_dir.c_str(), names.status().message().c_str());
    }
    for (const std::string& name : *names) {
      if (name.size() < 6 || name.compare(name.size() - 5, 5, ".json") != 0) continue;
      if (docs.size() >= config::kJobDocsMax * 2) {
        return base::error(base::Code::kResourceExhausted, "configuration error: jobs_dir %s: more than %zu jobs", config.jobs_dir.c_str(), config::kJobDocsMax * 2);
      }
      const std::string path = config.jobs_dir + "/" + name;
      auto text = fs.read_file(path, sched::kJobBytesMax);
      if (!text.is_ok()) return base::error(base::Code::kInvalidArgument, "configuration error: %s: %s", path.c_str(), text.status().message().c_str());
      docs.push_back(config::ServiceDoc{std::move(text).value(), path});
    }
  }
  std::vector<sched::Job> out;
  std::map<std::string, std::string> origin_of;
  for (const config::ServiceDoc& d : docs) {
    sched::JobDecode j = sched::decode_job(d.json);
    if (!j.job) {
      std::string all;
      for (const std::string& p : j.problems) all += "\n  " + p;
      if (j.problems_dropped > 0) all += "\n  (" + std::to_string(j.problems_dropped) + " more)";
      return base::error(base::Code::kInvalidArgument, "configuration error: %s: the job has problems:%s", d.origin.c_str(), all.c_str());
    }
    auto [it, fresh] = origin_of.emplace(j.job->id, d.origin);
    if (!fresh) {
      return base::error(base::Code::kInvalidArgument, "configuration error: %s: job ID \"%s\" is also %s's", d.origin.c_str(), j.job->id.c_str(), it->second.c_str());
    }
    out.push_back(std::move(*j.job));
  }
  return out;
}

base::Status Agent::start() {
  AGENT_ASSIGN_OR_RETURN(std::vector<catalog::Service> from_config, config_services(config_.services));
  AGENT_ASSIGN_OR_RETURN(std::vector<sched::Job> jobs, static_jobs(*env_.fs, config_));
  AGENT_TRY(env_.fs->make_dirs(config_.data_dir, 0700));
  AGENT_TRY(load_node_id());
  AGENT_TRY(open_signals());

  membership_ = std::make_unique<Membership>(env_, loop_, config_, log_);
  AGENT_TRY(membership_->start(node_id_));
  membership_->on_left([this] {
    stop_requested_ = true;
    loop_.stop();
  });
  add_health_source("gossip", [this] {
    HealthResult r;
    r.passing = membership_->healthy(&r.output);
    return r;
  });

  if (config_.server) {
    AGENT_TRY(start_server());
  } else {
    AGENT_TRY(start_forwarder());
  }
  services_ = std::make_unique<catalog::LocalServices>(loop_, *env_.fs, *env_.net, config_.data_dir, config_.datacenter, config_.node_name, log_, [this] {
    fatal_ = base::error(base::Code::kIo, "cannot persist the registered services");
    loop_.stop();
  });
  if (config_.enable_exec_checks) {
    if (env_.processes == nullptr) return base::error(base::Code::kUnimplemented, "enable_exec_checks: this platform runs no commands");
    services_->enable_exec_checks(env_.processes);
  }
  AGENT_TRY(services_->load());
  for (size_t i = 0; i < from_config.size(); ++i) {
    base::Status st = services_->put_from_config(from_config[i]);
    if (!st.is_ok()) {
      return base::error(st.code(), "configuration error: %s: %s", config_.services[i].origin.c_str(), st.message().c_str());
    }
  }
  services_->forget_restored();
  {
    // The node's address in the catalog (what DNS answers for its services): the one gossip
    // advertises -- advertise_addr, else bind_addr, else with a wildcard bind_addr the first up
    // interface's IPv4 (a booted node leasing its address by DHCP), never 0.0.0.0.
    catalog::NodeIdentity self{config_.node_name, node_id_, membership_->advertise().host_string(), config_.datacenter};
    // The push goes through this agent's own router: a server's catalog route proposes it, a
    // client agent's forwarder takes it to a server.
    anti_entropy_ = std::make_unique<catalog::AntiEntropy>(loop_, *services_, std::move(self), self_dispatch(), log_);
    anti_entropy_->set_before_push([this] { set_self_check(/*push_starting=*/true); });
  }

  {
    auto store = image::ImageStore::open(config_.data_dir + "/images", *env_.fs, env_.mounts);
    if (!store.is_ok()) return base::error(store.status().code(), "image store: %s", store.status().message().c_str());
    images_ = std::move(store).value();
    image_api_ = std::make_unique<image::ImageApi>(images_, executor_, *env_.clock);
  }
  {
    supervisor::SupervisorOptions so;
    so.data_dir = config_.data_dir;
    so.node_name = config_.node_name;
    so.datacenter = config_.datacenter;
    so.stop_tasks_on_shutdown = config_.dev;
    so.register_service = [this](const std::string& json) -> base::Status {
      AGENT_ASSIGN_OR_RETURN(catalog::Service svc, catalog::decode_registration(json, catalog::kRegistrationBytesMax));
      return services_->put_from_config(svc);
    };
    so.deregister_service = [this](const std::string& id) {
      if (services_) services_->remove(id).ignore();
    };
    {
      std::string addr = config_.advertise_addr.empty() ? config_.bind_addr : config_.advertise_addr;
      so.check_address = addr == "0.0.0.0" || addr == "::" || addr.empty() ? "127.0.0.1" : addr;
    }
    so.images = images_.get();
    so.executor = &executor_;
    so.dns_on_all_addresses = config_.client_addr == "0.0.0.0" || config_.client_addr == "::";
    so.dns_address = so.dns_on_all_addresses ? "127.0.0.1" : config_.client_addr;
    supervisor_ = std::make_unique<supervisor::Supervisor>(env_, loop_, log_, std::move(so));
    AGENT_TRY(supervisor_->start(jobs));
  }

  // The fleet's services for DNS, followed through the same router.
  catalog_view_ = std::make_unique<catalog::CatalogView>(loop_, self_dispatch(), log_);

  add_routes();
  anti_entropy_->start();
  if (config_.dns_enabled) catalog_view_->start();
  http::ServerOptions options;
  options.limits.body_bytes_max = config_.http.body_bytes_max;
  options.connections_max = config_.http.connections_max;
  options.idle_timeout = config_.http.idle_timeout;
  options.header_timeout = config_.http.header_timeout;
  http_ = std::make_unique<http::Server>(loop_, *env_.net, *env_.clock, router_.handler(), options);

  auto tcp = hal::SockAddr::parse(config_.client_addr, config_.ports.http);
  if (!tcp.is_ok()) return base::error(base::Code::kInvalidArgument, "client_addr: %s", tcp.status().message().c_str());
  tcp->port = config_.ports.http;
  base::Status s = http_->listen(*tcp);
  if (!s.is_ok()) {
    return base::error(s.code(), "HTTP API cannot listen on %s: %s", tcp->to_string().c_str(), s.message().c_str());
  }
  auto bound = http_->listen_addr(0);
  AGENT_LOG_INFO(log_, "http", "API listening on %s", bound.is_ok() ? bound->to_string().c_str() : "?");

  auto sock = hal::SockAddr::parse("unix:" + config_.socket_path);
  if (!sock.is_ok()) return base::error(base::Code::kInvalidArgument, "socket_path: %s", sock.status().message().c_str());
  // The socket's directory is private too: 0600 on the socket is the contract, 0700 on a
  // directory we create keeps others from even seeing it.
  std::string dir = config_.socket_path.substr(0, config_.socket_path.rfind('/'));
  if (!dir.empty()) AGENT_TRY(env_.fs->make_dirs(dir, 0700));
  hal::ListenOptions unix_options;
  unix_options.unix_mode = 0600;
  s = http_->listen(*sock, unix_options);
  if (!s.is_ok()) {
    return base::error(s.code(), "agentctl socket %s: %s", config_.socket_path.c_str(), s.message().c_str());
  }
  socket_listening_ = true;
  AGENT_LOG_INFO(log_, "http", "agentctl socket %s (owner-only)", config_.socket_path.c_str());

  if (config_.dns_enabled) AGENT_TRY(start_dns());

  add_health_source("http", [this] {
    size_t n = http_ ? http_->listeners() : 0;
    if (n < 2) return HealthResult{false, "HTTP listeners: " + std::to_string(n) + " of 2 open"};
    return HealthResult{true, "API and agentctl socket open"};
  });
  add_health_source("data_dir", [this] {
    auto info = env_.fs->stat(config_.data_dir);
    if (!info.is_ok()) return HealthResult{false, "data_dir " + config_.data_dir + ": " + info.status().message()};
    if (info->type != hal::FileType::kDirectory) return HealthResult{false, "data_dir " + config_.data_dir + " is not a directory"};
    return HealthResult{true, "data_dir " + config_.data_dir + " present"};
  });

  update_self_check();

  std::weak_ptr<bool> alive = alive_;
  log_.set_append_hook([this, alive] {
    // Runs on whichever thread logged; only post to the loop, coalesced by the loop itself.
    if (alive.expired() || !log_followed_.load(std::memory_order_relaxed)) return;
    (void)loop_.post([this, alive] {
      if (!alive.expired()) on_log_appended();
    });
  });

  std::string roles;
  for (const auto& r : config_.roles) roles += (roles.empty() ? "" : ",") + r;
  AGENT_LOG_INFO(log_, kModule, "weft %s started: node %s (%s), datacenter %s, roles %s%s, data_dir %s",
                 std::string(base::version()).c_str(), config_.node_name.c_str(), node_id_.c_str(),
                 config_.datacenter.c_str(), roles.c_str(), config_.dev ? ", dev mode" : "",
                 config_.data_dir.c_str());
  return base::Status::ok();
}

base::Status Agent::start_server() {
  AGENT_ASSIGN_OR_RETURN(hal::tls::Identity identity, server::load_identity(env_, config_, log_));
  auto bind = hal::SockAddr::parse(config_.bind_addr, config_.ports.rpc);
  if (!bind.is_ok()) return base::error(base::Code::kInvalidArgument, "bind_addr: %s", bind.status().message().c_str());
  bind->port = config_.ports.rpc;
  raft_ = std::make_unique<server::RaftHost>(env_, loop_, executor_, config_, log_, node_id_, config_.node_name);
  raft_->on_fatal([this](base::Status s) {
    fatal_ = s;
    loop_.stop();
  });
  AGENT_TRY(raft_->start(identity, *bind));
  kv::KvOptions kv_options;
  {
    uint8_t b[8];
    AGENT_TRY(env_.entropy->fill(std::span<uint8_t>(b, sizeof b)));
    for (uint8_t x : b) kv_options.blocking.jitter_seed = (kv_options.blocking.jitter_seed << 8) | x;
  }
  kv_api_ = std::make_unique<kv::KvApi>(loop_, *raft_, log_, kv_options);
  kv::BlockingOptions catalog_reads = kv_options.blocking;
  ++catalog_reads.jitter_seed;
  catalog_api_ = std::make_unique<catalog::CatalogApi>(loop_, *raft_, log_, catalog_reads);
  raft_->add_rpc_method("http.forward", [this](std::string body, const std::string&, rpc::Endpoint::Respond respond) {
    server::serve_forwarded(router_, std::move(body), std::move(respond));
  });
  membership_->on_member_change([this](const gossip::Member& m) { on_member(m); });
  reconcile_all_node_health();
  if (membership_->transport() != nullptr) {
    for (const auto& m : membership_->transport()->members()) on_member(m);
  }
  add_health_source("raft", [this] {
    const raft::RaftCore* core = raft_->core();
    if (core == nullptr) return HealthResult{false, "the cluster has not formed yet (bootstrap_expect)"};
    if (core->leader() == raft::kNoServer) return HealthResult{false, "no cluster leader"};
    return HealthResult{true, std::string("raft ") + raft::role_name(core->role()) + ", term " + std::to_string(core->term())};
  });
  return base::Status::ok();
}

base::Status Agent::start_forwarder() {
  if (!config_.tls.ca_file.empty()) {
    AGENT_ASSIGN_OR_RETURN(hal::tls::Identity identity, server::load_identity(env_, config_, log_));
    auto tls = hal::tls::TlsConfig::create(hal::tls::Role::kClient, identity);
    if (!tls.is_ok()) return base::error(tls.status().code(), "RPC TLS: %s", tls.status().message().c_str());
    client_tls_ = std::move(tls).value();
  }
  uint8_t b[8];
  AGENT_TRY(env_.entropy->fill(std::span<uint8_t>(b, sizeof b)));
  uint64_t seed = 0;
  for (uint8_t x : b) seed = (seed << 8) | x;
  forwarder_ = std::make_unique<server::Forwarder>(loop_, *env_.net, client_tls_.get(), server::server_name(config_), log_, seed);
  membership_->on_member_change([this](const gossip::Member& m) { on_member(m); });
  if (membership_->transport() != nullptr) {
    for (const auto& m : membership_->transport()->members()) on_member(m);
  }
  return base::Status::ok();
}

// Consul's leader reconciles every member into the catalog's serfHealth check: alive (or
// suspect) passing, failed critical, left deregistered. Only the leader proposes, and only what
// differs from what it last proposed for the member; a periodic pass covers events that arrived
// while another server led.
void Agent::reconcile_node_health(const gossip::Member& m) {
  const raft::RaftCore* core = raft_ ? raft_->core() : nullptr;
  if (core == nullptr || core->role() != raft::Role::kLeader) {
    node_health_proposed_.clear();
    return;
  }
  const NodeVerdict want = m.state == gossip::MemberState::kLeft   ? NodeVerdict::kDeregister
                           : m.state == gossip::MemberState::kDead ? NodeVerdict::kCritical
                                                                   : NodeVerdict::kPassing;
  auto it = node_health_proposed_.find(m.name);
  if (it != node_health_proposed_.end() && it->second == want) return;
  const bool critical = want == NodeVerdict::kCritical;
  base::Result<std::string> cmd = want == NodeVerdict::kDeregister
                                      ? wire::encode_catalog_deregister(m.name)
                                      : wire::encode_catalog_node_health(wire::CatalogNodeHealth{
                                            m.name, critical ? wire::CheckHealth::kCritical : wire::CheckHealth::kPassing,
                                            critical ? "Agent not live or unreachable" : "Agent alive and reachable"});
  if (!cmd.is_ok()) return;  // a member name the catalog cannot hold (over its bounds)
  node_health_proposed_[m.name] = want;
  std::weak_ptr<bool> alive = alive_;
  std::string name = m.name;
  raft_->write(std::move(cmd).value(), [this, alive, name, want](base::Result<state::ApplyResult> r) {
    if (alive.expired() || r.is_ok()) return;
    // Not applied (leadership moved, a timeout): forget it so the next pass proposes it again.
    auto it = node_health_proposed_.find(name);
    if (it != node_health_proposed_.end() && it->second == want) node_health_proposed_.erase(it);
  });
}

// The node's own health as a node-level check in its catalog entry (kSelfCheckId; gossip's view
// of the node is the leader's serfHealth): each second every health source, and on a client agent
// whether the foundations took its last catalog push. Passing when all pass; else warning naming
// what fails -- the agent answers, but something it depends on does not. (The catalog push is not
// a health source: /v1/agent/health says whether this agent works, and a client started before
// any foundation does.)
void Agent::update_self_check() {
  self_check_timer_ = runtime::kNoTimer;
  set_self_check(/*push_starting=*/false);
  auto t = loop_.arm_after(base::Duration::seconds(1), [this] { update_self_check(); });
  if (t.is_ok()) self_check_timer_ = *t;
}

// The check as of now. Just before a push (push_starting) the last push's failure is not counted:
// the push about to go is the test of it, and a push that arrives proves the foundations
// reachable -- so a node never tells the catalog "the catalog is unreachable".
void Agent::set_self_check(bool push_starting) {
  if (!services_) return;
  std::string failing;
  auto fail = [&failing](const std::string& why) { failing += (failing.empty() ? "" : "; ") + why; };
  for (const auto& [name, source] : health_) {
    HealthResult r = source();
    if (!r.passing) fail(name + ": " + r.output);
  }
  if (!push_starting && !config_.server && anti_entropy_ && anti_entropy_->failing()) {
    fail("catalog: the foundations did not take this node's last push (" + std::to_string(anti_entropy_->failures()) + " failed)");
  }
  services_->set_node_check(std::string(kSelfCheckId), "Agent health", failing.empty() ? catalog::CheckStatus::kPassing : catalog::CheckStatus::kWarning,
                            failing.empty() ? "agent, gossip and foundations healthy" : failing);
}

void Agent::reconcile_all_node_health() {
  node_health_timer_ = runtime::kNoTimer;
  if (membership_ && membership_->transport() != nullptr) {
    for (const auto& m : membership_->transport()->members()) reconcile_node_health(m);
  }
  reap_catalog_nodes();
  auto t = loop_.arm_after(base::Duration::seconds(5), [this] { reconcile_all_node_health(); });
  if (t.is_ok()) node_health_timer_ = *t;
}

// Consul's reconcile of reaped members: a node the catalog holds that gossip no longer knows at
// all (its member list forgets a dead node after gossip.reap_after; one that left was
// deregistered at once) is deregistered by the leader -- once it has been missing from the member
// list for kCatalogReapGrace on consecutive passes, since a new node's first push can reach the
// leader before gossip tells the leader the node exists.
void Agent::reap_catalog_nodes() {
  const raft::RaftCore* core = raft_ ? raft_->core() : nullptr;
  if (core == nullptr || core->role() != raft::Role::kLeader || !membership_ || membership_->transport() == nullptr) {
    catalog_absent_since_.clear();
    return;
  }
  auto names = std::make_shared<std::vector<std::string>>();
  std::weak_ptr<bool> alive = alive_;
  raft_->read(
      kv::Consistency::kStale,
      [names](const state::Store& s) -> base::Status {
        AGENT_ASSIGN_OR_RETURN(std::vector<state::CatalogNodeRow> nodes, s.catalog_nodes());
        for (state::CatalogNodeRow& n : nodes) names->push_back(std::move(n.name));
        return base::Status::ok();
      },
      [this, alive, names](base::Status st, kv::ReadMeta) {
        if (alive.expired() || !st.is_ok() || !membership_ || membership_->transport() == nullptr) return;
        std::set<std::string> members;
        for (const auto& m : membership_->transport()->members()) members.insert(m.name);
        const base::MonoTime now = loop_.now();
        std::map<std::string, base::MonoTime> next;
        for (const std::string& name : *names) {
          if (members.count(name) != 0) continue;
          auto was = catalog_absent_since_.find(name);
          const base::MonoTime since = was == catalog_absent_since_.end() ? now : was->second;
          if (now - since < kCatalogReapGrace) {
            next.emplace(name, since);
            continue;
          }
          base::Result<std::string> cmd = wire::encode_catalog_deregister(name);
          if (!cmd.is_ok()) continue;
          AGENT_LOG_INFO(log_, "catalog", "node %s left the catalog: gossip no longer knows it", name.c_str());
          raft_->write(std::move(cmd).value(), [](base::Result<state::ApplyResult>) {});  // a failure: the next pass
          node_health_proposed_.erase(name);
        }
        catalog_absent_since_ = std::move(next);
      });
}

// A request of this agent's own through its router, answered through `done`: on a server its own
// routes take it, on a client agent the forwarder carries it to a server.
std::function<void(http::Request, std::function<void(http::Response)>)> Agent::self_dispatch() {
  return [this](http::Request req, std::function<void(http::Response)> done) {
    auto link = std::make_shared<http::DetachedLink>();
    link->done = std::move(done);
    router_.dispatch(req, http::Responder::detached(link));
  };
}

void Agent::on_member(const gossip::Member& m) {
  if (raft_) reconcile_node_health(m);
  if (!raft_ && !forwarder_) return;
  auto tag = [&m](std::string_view k) -> std::string {
    auto it = m.tags.find(std::string(k));
    return it == m.tags.end() ? std::string() : it->second;
  };
  std::string roles = "," + tag(gossip::kTagRole) + ",";
  if (roles.find(",foundation,") == std::string::npos || tag("dc") != config_.datacenter) return;
  std::string id = tag("id");
  if (id.size() != 36) return;
  server::ServerInfo info;
  info.node_id = id;
  info.name = m.name;
  info.id = server::server_id_of(id);
  info.alive = m.state == gossip::MemberState::kAlive || m.state == gossip::MemberState::kSuspect;
  info.left = m.state == gossip::MemberState::kLeft;
  auto rpc = hal::SockAddr::parse(tag(gossip::kTagRpcAddr));
  if (rpc.is_ok()) info.rpc = *rpc;
  if (raft_) raft_->on_server(info);
  if (forwarder_) forwarder_->on_server(info);
}

base::Status Agent::run() {
  base::Status s = loop_.run();
  shutdown();
  if (!fatal_.is_ok()) return fatal_;
  return s;
}

void Agent::stop() { loop_.stop(); }

void Agent::shutdown() {
  for (auto& w : log_waiters_) w.responder.send(http::Response::error(503, "agent is shutting down"));
  log_waiters_.clear();
  if (log_waiter_timer_ != runtime::kNoTimer) {
    loop_.cancel(log_waiter_timer_);
    log_waiter_timer_ = runtime::kNoTimer;
  }
  if (http_) {
    http_->close();
    http_.reset();
  }
  dns_.reset();
  if (supervisor_) supervisor_->shutdown();
  supervisor_.reset();
  image_api_.reset();
  images_.reset();
  catalog_view_.reset();
  if (self_check_timer_ != runtime::kNoTimer) {
    loop_.cancel(self_check_timer_);
    self_check_timer_ = runtime::kNoTimer;
  }
  anti_entropy_.reset();
  services_.reset();
  if (node_health_timer_ != runtime::kNoTimer) {
    loop_.cancel(node_health_timer_);
    node_health_timer_ = runtime::kNoTimer;
  }
  catalog_api_.reset();
  kv_api_.reset();
  forwarder_.reset();
  if (raft_) raft_->shutdown();
  raft_.reset();
  membership_.reset();
  if (socket_listening_) {
    env_.fs->remove(config_.socket_path).ignore();
    socket_listening_ = false;
  }
  if (signals_ != hal::kInvalidHandle) {
    loop_.unwatch(signals_);
    env_.signals->close(signals_);
    signals_ = hal::kInvalidHandle;
  }
}

void Agent::add_routes() {
  if (!config_.boot.dir.empty()) {
    boot_server_ = std::make_unique<BootServer>(*env_.fs, config_.boot.dir, config_.boot.default_profile,
                                                membership_->advertise().host_string());
    boot_server_->add_routes(router_);
  }
  router_.add("GET", "/v1/agent/self", [this](http::Request& q, http::Responder r) { handle_self(q, std::move(r)); });
  router_.add("GET", "/v1/agent/health", [this](http::Request& q, http::Responder r) { handle_health(q, std::move(r)); });
  router_.add("GET", "/v1/agent/dns", [this](http::Request& q, http::Responder r) { handle_dns(q, std::move(r)); });
  router_.add("GET", "/v1/agent/logs", [this](http::Request& q, http::Responder r) { handle_logs(q, std::move(r)); });
  if (membership_) membership_->add_routes(router_);
  if (raft_) raft_->add_routes(router_);
  if (kv_api_) kv_api_->add_routes(router_);
  if (catalog_api_) catalog_api_->add_routes(router_);
  if (forwarder_) forwarder_->add_routes(router_);
  if (services_) services_->add_routes(router_);
  if (supervisor_) supervisor_->add_routes(router_);
  if (image_api_) image_api_->add_routes(router_);
}

// Weft's own: GET /v1/agent/dns?name=N[&type=T] asks this agent's DNS server (its responder,
// through the same code as a datagram over TCP) and answers the response as JSON, for
// `agentctl dns` on a console with no dig.
void Agent::handle_dns(http::Request& req, http::Responder resp) {
  if (!dns_) {
    resp.send(http::Response::error(503, "DNS is off on this agent (dns.enabled is false)"));
    return;
  }
  const std::string* name = req.query_value("name");
  const std::string* type_text = req.query_value("type");
  const uint16_t type = type_text == nullptr ? dns::kTypeA : dns::type_from_text(*type_text);
  if (name == nullptr || name->empty() || type == 0) {
    resp.send(http::Response::error(400, "want ?name=NAME[&type=A|AAAA|SRV|PTR|SOA|NS|TXT|ANY|<number>]"));
    return;
  }
  auto query = dns::build_query(*name, type);
  if (!query.is_ok()) {
    resp.send(http::Response::error(400, query.status().message()));
    return;
  }
  std::vector<uint8_t> out(65535);
  const size_t n = dns_->answer(*query, /*over_tcp=*/true, out);
  auto text = dns::describe_response(std::span<const uint8_t>(out.data(), n));
  if (n == 0 || !text.is_ok()) {
    resp.send(http::Response::error(500, n == 0 ? "the DNS server dropped the query" : text.status().message()));
    return;
  }
  http::Json doc = http::Json::object();
  doc.add_string(doc.get(), "Rcode", text->rcode);
  doc.add_bool(doc.get(), "Authoritative", text->authoritative);
  doc.add_bool(doc.get(), "Truncated", text->truncated);
  const std::pair<const char*, const std::vector<dns::RecordText>*> sections[] = {
      {"Answer", &text->answer}, {"Authority", &text->authority}, {"Additional", &text->additional}};
  for (const auto& [key, records] : sections) {
    cJSON* a = doc.add_array(doc.get(), key);
    for (const dns::RecordText& r : *records) {
      cJSON* o = doc.add_object(a, "");
      doc.add_string(o, "Name", r.name);
      doc.add_u64(o, "TTL", r.ttl);
      doc.add_string(o, "Type", r.type);
      doc.add_string(o, "Data", r.data);
    }
  }
  resp.send(http::json_response(200, doc));
}

void Agent::handle_self(http::Request&, http::Responder resp) {
  http::Json doc = http::Json::object();
  cJSON* cfg = doc.add_object(doc.get(), "Config");
  doc.add_string(cfg, "Datacenter", config_.datacenter);
  doc.add_string(cfg, "NodeName", config_.node_name);
  doc.add_string(cfg, "NodeID", node_id_);
  doc.add_bool(cfg, "Server", config_.server);
  doc.add_string(cfg, "Version", base::version());
  doc.add_bool(cfg, "Dev", config_.dev);
  cJSON* roles = doc.add_array(cfg, "Roles");
  for (const auto& r : config_.roles) doc.add_string(roles, "", r);

  cJSON* member = doc.add_object(doc.get(), "Member");
  doc.add_string(member, "Name", config_.node_name);
  doc.add_string(member, "Addr", membership_ ? membership_->advertise().host_string() : config_.bind_addr);
  doc.add_i64(member, "Port", config_.ports.gossip);
  cJSON* tags = doc.add_object(member, "Tags");
  doc.add_string(tags, "dc", config_.datacenter);
  doc.add_string(tags, "id", node_id_);
  std::string role_list;
  for (const auto& r : config_.roles) role_list += (role_list.empty() ? "" : ",") + r;
  doc.add_string(tags, "roles", role_list);
  doc.add_string(tags, "build", base::version());
  doc.add_i64(member, "Status", 1);  // alive: this node, as far as it knows

  cJSON* meta = doc.add_object(doc.get(), "Meta");
  for (const auto& [k, v] : config_.labels) doc.add_string(meta, k, v);

  cJSON* stats = doc.add_object(doc.get(), "Stats");
  cJSON* agent = doc.add_object(stats, "agent");
  base::MonoTime now = env_.clock->mono_now();
  doc.add_i64(agent, "uptime_seconds", (now - started_mono_).sec());
  char started[40];
  base::format_rfc3339(started_wall_, started, sizeof started);
  doc.add_string(agent, "started", started);
  doc.add_u64(agent, "log_last_seq", log_.last_seq());
  cJSON* runtime_stats = doc.add_object(stats, "runtime");
  if (auto self = env_.sys->self(); self.is_ok()) {
    doc.add_u64(runtime_stats, "rss_bytes", self->rss_bytes);
    doc.add_u64(runtime_stats, "rss_peak_bytes", self->rss_peak_bytes);
    doc.add_u64(runtime_stats, "open_fds", self->open_fds);
  }
  doc.add_u64(runtime_stats, "timers_pending", loop_.timers_pending());
  if (auto facts = env_.sys->read(); facts.is_ok()) {
    doc.add_string(runtime_stats, "os", facts->os);
    doc.add_string(runtime_stats, "arch", facts->arch);
    doc.add_string(runtime_stats, "kernel", facts->kernel_release);
    doc.add_u64(runtime_stats, "cpu_count", facts->cpu_count);
    doc.add_u64(runtime_stats, "cpu_mhz", facts->cpu_mhz);
    doc.add_u64(runtime_stats, "memory_total_bytes", facts->memory_total_bytes);
    doc.add_string(runtime_stats, "hostname", facts->hostname);
  }
  if (membership_) membership_->add_stats(doc, stats);
  if (raft_) raft_->add_stats(doc, stats);
  if (http_) {
    const http::ServerCounters& c = http_->counters();
    cJSON* h = doc.add_object(stats, "http");
    doc.add_u64(h, "requests", c.requests);
    doc.add_u64(h, "connections_open", c.connections_open);
    doc.add_u64(h, "connections_refused", c.connections_refused);
    doc.add_u64(h, "parse_errors", c.parse_errors);
    doc.add_u64(h, "responses_4xx", c.responses_by_class[4]);
    doc.add_u64(h, "responses_5xx", c.responses_by_class[5]);
  }
  if (dns_) {
    const dns::ServerCounters& c = dns_->counters();
    cJSON* d = doc.add_object(stats, "dns");
    doc.add_u64(d, "received", c.received);
    doc.add_u64(d, "answered", c.answered);
    doc.add_u64(d, "refused", c.refused);
    doc.add_u64(d, "formerr", c.formerr);
    doc.add_u64(d, "dropped_short", c.dropped_short);
    doc.add_u64(d, "dropped_response", c.dropped_response);
    doc.add_u64(d, "dropped_oversize", c.dropped_oversize);
    doc.add_u64(d, "send_failed", c.send_failed);
    doc.add_u64(d, "tcp_accepted", c.tcp_accepted);
    doc.add_u64(d, "tcp_refused", c.tcp_refused);
    doc.add_u64(d, "tcp_bad_length", c.tcp_bad_length);
    doc.add_u64(d, "tcp_idle_closed", c.tcp_idle_closed);
    doc.add_u64(d, "tcp_paused", c.tcp_paused);
    doc.add_u64(d, "tcp_open", c.tcp_open);
    doc.add_u64(d, "forwarded", c.forwarded);
    doc.add_u64(d, "forward_replies", c.forward_replies);
    doc.add_u64(d, "forward_timeouts", c.forward_timeouts);
    doc.add_u64(d, "forward_servfail", c.forward_servfail);
    doc.add_u64(d, "forward_dropped", c.forward_dropped);
    doc.add_u64(d, "forward_table_full", c.forward_table_full);
    doc.add_u64(d, "forward_truncated", c.forward_truncated);
    doc.add_u64(d, "forwards_pending", c.forwards_pending);
    doc.add_u64(d, "recursion_refused", c.recursion_refused);
  }
  doc.add_tree(doc.get(), "EffectiveConfig", http::Json(config::to_json(config_, /*with_origins=*/true).release()));
  resp.send(http::json_response(200, doc));
}

void Agent::handle_health(http::Request&, http::Responder resp) {
  http::Json doc = http::Json::object();
  bool healthy = true;
  cJSON* checks = doc.add_array(doc.get(), "Checks");
  cJSON* reasons = nullptr;
  for (const auto& [name, source] : health_) {
    HealthResult r = source();
    cJSON* c = doc.add_object(checks, "");
    doc.add_string(c, "Name", name);
    doc.add_string(c, "Status", r.passing ? "passing" : "critical");
    doc.add_string(c, "Output", r.output);
    if (!r.passing) {
      healthy = false;
      if (!reasons) reasons = doc.add_array(doc.get(), "Reasons");
      doc.add_string(reasons, "", name + ": " + r.output);
    }
  }
  doc.add_bool("Healthy", healthy);
  doc.add_string("Node", config_.node_name);
  resp.send(http::json_response(healthy ? 200 : 503, doc));
}

// GET /v1/agent/logs?after=SEQ|tail=N&level=LEVEL&limit=N&wait=DURATION
// Returns {"Last": seq, "Records": [...]}; with `wait`, blocks until a record after `after`
// exists or the wait ends (then answers with no records), like a Consul blocking query.
void Agent::handle_logs(http::Request& req, http::Responder resp) {
  uint64_t after = 0;
  if (const std::string* v = req.query_value("after"); v && !parse_u64(*v, &after)) {
    resp.send(http::Response::error(400, "after: want a record sequence number"));
    return;
  }
  if (const std::string* v = req.query_value("tail")) {
    uint64_t tail = 0;
    if (req.has_query("after") || !parse_u64(*v, &tail) || tail > kLogLimitMax) {
      resp.send(http::Response::error(400, "tail: want 0.." + std::to_string(kLogLimitMax) + ", without after"));
      return;
    }
    uint64_t last = log_.last_seq();
    after = last > tail ? last - tail : 0;
  }
  base::LogLevel level = base::LogLevel::kDebug;
  if (const std::string* v = req.query_value("level"); v && !base::parse_log_level(*v, &level)) {
    resp.send(http::Response::error(400, "level: want debug, info, warn or error"));
    return;
  }
  uint64_t limit = 1000;
  if (const std::string* v = req.query_value("limit"); v && (!parse_u64(*v, &limit) || limit == 0 || limit > kLogLimitMax)) {
    resp.send(http::Response::error(400, "limit: want 1.." + std::to_string(kLogLimitMax)));
    return;
  }
  base::Duration wait = base::Duration::zero();
  if (const std::string* v = req.query_value("wait")) {
    if (!parse_wait(*v, &wait)) {
      resp.send(http::Response::error(400, "wait: want a duration such as 30s or 500ms"));
      return;
    }
    if (wait > kLogWaitMax) wait = kLogWaitMax;
  } else if (req.has_query("index")) {
    wait = kLogWaitDefault;
  }
  if (wait > base::Duration::zero() && log_.last_seq() <= after) {
    if (log_waiters_.size() >= kLogWaitersMax) {
      resp.send(http::Response::error(429, "too many log followers"));
      return;
    }
    log_waiters_.push_back(LogWaiter{after, level, static_cast<size_t>(limit), loop_.now() + wait, std::move(resp)});
    log_followed_.store(true, std::memory_order_relaxed);
    // Re-checks for a record logged by a worker thread before the hook could see the waiter,
    // and arms the timer for the earliest deadline.
    answer_log_waiters(/*timed_out_only=*/false);
    return;
  }
  std::vector<base::LogRecord> records;
  uint64_t last = log_.read_after(after, static_cast<size_t>(limit), level, &records);
  http::Json doc = http::Json::object();
  doc.add_u64("Last", last);
  cJSON* list = doc.add_array(doc.get(), "Records");
  for (const auto& r : records) {
    cJSON* o = doc.add_object(list, "");
    doc.add_u64(o, "Seq", r.seq);
    char ts[40];
    base::format_rfc3339(r.time, ts, sizeof ts);
    doc.add_string(o, "Time", ts);
    doc.add_string(o, "Level", base::log_level_name(r.level));
    doc.add_string(o, "Module", r.module);
    doc.add_string(o, "Message", r.text);
  }
  http::Response out = http::json_response(200, doc);
  out.set_header("X-Consul-Index", std::to_string(last));
  resp.send(std::move(out));
}

void Agent::on_log_appended() {
  if (!log_waiters_.empty()) answer_log_waiters(/*timed_out_only=*/false);
}

void Agent::answer_log_waiters(bool timed_out_only) {
  base::MonoTime now = loop_.refresh_now();
  uint64_t last = log_.last_seq();
  std::vector<LogWaiter> keep;
  base::MonoTime earliest = base::MonoTime::never();
  for (auto& w : log_waiters_) {
    bool ready = (!timed_out_only && last > w.after_seq) || now >= w.deadline || !w.responder.connection_alive();
    if (!ready) {
      earliest = std::min(earliest, w.deadline);
      keep.push_back(std::move(w));
      continue;
    }
    if (!w.responder.connection_alive()) continue;
    http::Request synthetic;
    synthetic.query = {{"after", std::to_string(w.after_seq)},
                       {"level", std::string(base::log_level_name(w.level))},
                       {"limit", std::to_string(w.limit)}};
    handle_logs(synthetic, std::move(w.responder));
  }
  log_waiters_ = std::move(keep);
  log_followed_.store(!log_waiters_.empty(), std::memory_order_relaxed);
  if (log_waiter_timer_ != runtime::kNoTimer) {
    loop_.cancel(log_waiter_timer_);
    log_waiter_timer_ = runtime::kNoTimer;
  }
  if (!earliest.is_never()) {
    auto t = loop_.arm(earliest, [this] {
      log_waiter_timer_ = runtime::kNoTimer;
      answer_log_waiters(/*timed_out_only=*/true);
    });
    if (t.is_ok()) log_waiter_timer_ = *t;
  }
}

base::Status Agent::start_dns() {
  auto bind = hal::SockAddr::parse(config_.client_addr, config_.ports.dns);
  if (!bind.is_ok()) return base::error(base::Code::kInvalidArgument, "client_addr: %s", bind.status().message().c_str());
  bind->port = config_.ports.dns;
  dns::ServerOptions o;
  o.bind = *bind;
  if (!dns::name_from_text(config_.domain, &o.responder.domain)) {
    return base::error(base::Code::kInvalidArgument, "domain %s is not a DNS name", config_.domain.c_str());
  }
  o.responder.datacenter = config_.datacenter;
  o.responder.service_ttl = static_cast<uint32_t>(config_.dns.service_ttl.ns() / 1000000000);
  o.responder.node_ttl = static_cast<uint32_t>(config_.dns.node_ttl.ns() / 1000000000);
  o.responder.soa_minimum_ttl = static_cast<uint32_t>(config_.dns.soa_min_ttl.ns() / 1000000000);
  o.responder.answers_max = static_cast<size_t>(config_.dns.answers_max);
  uint8_t seed[8];
  AGENT_TRY(env_.entropy->fill(std::span<uint8_t>(seed, sizeof seed)));
  for (uint8_t b : seed) o.seed = o.seed << 8 | b;
  // Forwarding: the config check already refused anything these parsers would.
  for (const std::string& r : config_.dns.recursors) {
    auto a = hal::SockAddr::parse(r, 53);
    if (!a.is_ok()) return base::error(base::Code::kInvalidArgument, "dns.recursors: %s", a.status().message().c_str());
    o.recursors.push_back(*a);
  }
  for (const std::string& n : config_.dns.recursion_networks) {
    auto net = hal::IpNetwork::parse(n);
    if (!net.is_ok()) {
      return base::error(base::Code::kInvalidArgument, "dns.recursion_networks: %s", net.status().message().c_str());
    }
    o.recursion_networks.push_back(*net);
  }
  o.recursor_timeout = config_.dns.recursor_timeout;
  o.entropy = env_.entropy;
  dns_ = std::make_unique<dns::Server>(loop_, *env_.net, o, [this] { return dns_view(); });
  base::Status s = dns_->start();
  if (!s.is_ok()) {
    dns_.reset();
    return base::error(s.code(), "DNS cannot listen on %s: %s", bind->to_string().c_str(), s.message().c_str());
  }
  auto bound = dns_->local_addr();
  AGENT_LOG_INFO(log_, "dns", "DNS (UDP and TCP) answering for %s. on %s", config_.domain.c_str(),
                 bound.is_ok() ? bound->to_string().c_str() : "?");
  if (!o.recursors.empty()) {
    std::string upstreams, networks;
    for (const hal::SockAddr& r : o.recursors) upstreams += (upstreams.empty() ? "" : ",") + r.to_string();
    for (const hal::IpNetwork& n : o.recursion_networks) networks += (networks.empty() ? "" : ",") + n.to_string();
    AGENT_LOG_INFO(log_, "dns", "other names forwarded to %s for clients in %s (timeout %lld ms)", upstreams.c_str(),
                   networks.empty() ? "no network" : networks.c_str(),
                   static_cast<long long>(o.recursor_timeout.ms()));
  }
  return base::Status::ok();
}

dns::View Agent::dns_view() {
  const base::MonoTime now = loop_.now();
  // Gossip members at most once a second; the registered services whenever they changed (their
  // string_views point into services_, so a change must be seen before the next answer).
  const bool services_changed = services_ && services_->version() != dns_services_version_;
  // The catalog's instances likewise (their strings live in catalog_view_ until it changes).
  const bool catalog_changed = catalog_view_ && catalog_view_->version() != dns_catalog_version_;
  if (!dns_view_built_ || services_changed || catalog_changed || now - dns_view_at_ >= base::Duration::seconds(1)) {
    dns_view_built_ = true;
    dns_view_at_ = now;
    dns_names_.clear();
    dns_nodes_.clear();
    dns::Address self;
    bool have_self = false;
    gossip::Transport* t = membership_ ? membership_->transport() : nullptr;
    if (t != nullptr) {
      const std::vector<gossip::Member> members = t->members();
      dns_names_.reserve(members.size());
      for (const gossip::Member& m : members) {
        if (m.state != gossip::MemberState::kAlive && m.state != gossip::MemberState::kSuspect) continue;
        if (m.addr.family != hal::AddrFamily::kIpv4 && m.addr.family != hal::AddrFamily::kIpv6) continue;
        dns_names_.push_back(m.name);
        dns::NodeEntry e;
        e.address.v6 = m.addr.family == hal::AddrFamily::kIpv6;
        std::copy(m.addr.ip.begin(), m.addr.ip.end(), e.address.bytes);
        dns_nodes_.push_back(e);
        if (m.name == config_.node_name) {
          self = e.address;
          have_self = true;
        }
      }
      // Names point into dns_names_, which no longer grows.
      for (size_t i = 0; i < dns_nodes_.size(); ++i) dns_nodes_[i].name = dns_names_[i];
    }
    dns_instances_.clear();
    dns_instance_tags_.clear();
    // Every other node's instances from the catalog view (this node's own come from services_
    // below, at once rather than a round trip later).
    const std::vector<catalog::ViewInstance>* fleet = nullptr;
    if (catalog_view_) {
      dns_catalog_version_ = catalog_view_->version();
      if (catalog_view_->has_view()) fleet = &catalog_view_->instances();
    }
    size_t tags = 0;
    if (fleet != nullptr) {
      for (const catalog::ViewInstance& v : *fleet) tags += v.tags.size();
    }
    if (services_) {
      for (const auto& [id, svc] : services_->services()) tags += svc.tags.size();
    }
    dns_instance_tags_.reserve(tags);  // no reallocation below: the spans stay valid
    if (fleet != nullptr) {
      for (const catalog::ViewInstance& v : *fleet) {
        if (v.node == config_.node_name) continue;
        auto ip = hal::SockAddr::parse(v.address, /*default_port=*/1);  // an address alone; the port is unused
        if (!ip.is_ok() || (ip->family != hal::AddrFamily::kIpv4 && ip->family != hal::AddrFamily::kIpv6)) continue;
        dns::Instance in;
        in.service = v.service;
        in.node = v.node;
        in.address.v6 = ip->family == hal::AddrFamily::kIpv6;
        std::copy(ip->ip.begin(), ip->ip.end(), in.address.bytes);
        in.port = v.port;
        in.health = v.health == wire::CheckHealth::kPassing   ? dns::Health::kPassing
                    : v.health == wire::CheckHealth::kWarning ? dns::Health::kWarning
                                                              : dns::Health::kCritical;
        const size_t first = dns_instance_tags_.size();
        for (const std::string& tag : v.tags) dns_instance_tags_.push_back(tag);
        in.tags = std::span<const std::string_view>(dns_instance_tags_.data() + first, v.tags.size());
        dns_instances_.push_back(in);
      }
    }
    if (services_) {
      dns_services_version_ = services_->version();
      for (const auto& [id, svc] : services_->services()) {
        dns::Instance in;
        in.service = svc.name;
        in.node = config_.node_name;
        if (svc.ip.family == hal::AddrFamily::kIpv4 || svc.ip.family == hal::AddrFamily::kIpv6) {
          in.address.v6 = svc.ip.family == hal::AddrFamily::kIpv6;
          std::copy(svc.ip.ip.begin(), svc.ip.ip.end(), in.address.bytes);
        } else if (have_self) {
          in.address = self;
        } else {
          continue;  // no address to give (this node is not in its own member list yet)
        }
        in.port = svc.port;
        switch (services_->service_health(id)) {
          case catalog::CheckStatus::kPassing:
            in.health = dns::Health::kPassing;
            break;
          case catalog::CheckStatus::kWarning:
            in.health = dns::Health::kWarning;
            break;
          case catalog::CheckStatus::kCritical:
            in.health = dns::Health::kCritical;
            break;
        }
        const size_t first = dns_instance_tags_.size();
        for (const std::string& tag : svc.tags) dns_instance_tags_.push_back(tag);
        in.tags = std::span<const std::string_view>(dns_instance_tags_.data() + first, svc.tags.size());
        dns_instances_.push_back(in);
      }
    }
  }
  return dns::View{dns_instances_, dns_nodes_};
}

}  // namespace agent
