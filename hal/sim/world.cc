#include "hal/sim/world.h"

#include <cstdio>

#include "agent/base/buggify.h"
#include "hal/sim/addr.h"

namespace sim {

namespace {
// Purposes of derived seeds; fixed numbers so adding a purpose never shifts another stream.
constexpr uint64_t kSeedNetwork = 1;
constexpr uint64_t kSeedWorld = 2;
constexpr uint64_t kSeedNode = 3;
constexpr uint64_t kSeedBuggify = 4;
constexpr uint64_t kSeedDisk = 5;

bool buggify_hook(void* ctx, double p, const char* file, int line) {
  return static_cast<World*>(ctx)->buggify(p, file, line);
}
}  // namespace

World::World(uint64_t seed, SimConfig config)
    : seed_(seed),
      config_(config),
      prng_(derive_seed(kSeedWorld)),
      trace_(config.trace_lines_max),
      network_(std::make_unique<Network>(*this, config_, derive_seed(kSeedNetwork))),
      buggify_prng_(derive_seed(kSeedBuggify)) {
  if (config_.buggify) {
    AGENT_ASSERT_MSG(base::buggify::g_hook == nullptr, "another World already has AGENT_BUGGIFY installed");
    base::buggify::install(&buggify_hook, this);
  }
  AGENT_ASSERT(config_.link.delay_min >= base::Duration::zero());
  AGENT_ASSERT(config_.local_delay > base::Duration::zero());
  AGENT_ASSERT(config_.executor_latency_min <= config_.executor_latency_max);
}

World::~World() {
  if (config_.buggify && base::buggify::g_ctx == this) base::buggify::install(nullptr, nullptr);
  // Processes first, while every node's sockets and loop still exist (their destructors may
  // close handles); then the nodes.
  for (auto& n : nodes_) {
    if (n->inc_) {
      n->inc_->net.begin_crash();
      n->inc_->process.reset();
    }
  }
  for (auto& n : nodes_) n->inc_.reset();
}

uint64_t World::derive_seed(uint64_t purpose, uint64_t a, uint64_t b) const {
  uint64_t st = seed_;
  uint64_t x = base::splitmix64(&st);
  st = x ^ (purpose * 0x9E3779B97F4A7C15ull);
  x = base::splitmix64(&st);
  st = x ^ (a * 0xC2B2AE3D27D4EB4Full);
  x = base::splitmix64(&st);
  st = x ^ (b * 0x165667B19E3779F9ull);
  return base::splitmix64(&st);
}

bool World::buggify(double p, const char* file, int line) {
  auto key = std::make_pair(std::string(file ? file : ""), line);
  auto it = buggify_sites_.find(key);
  if (it == buggify_sites_.end()) {
    // Whether the site is on in this run: from the seed and the site's name, not from the order
    // in which sites happen to be reached first.
    uint64_t h = fnv1a64(base::as_bytes(key.first), derive_seed(kSeedBuggify, static_cast<uint64_t>(line)));
    uint64_t st = h;
    const double u = static_cast<double>(base::splitmix64(&st) >> 11) * 0x1.0p-53;
    it = buggify_sites_.emplace(key, u < config_.buggify_site_probability).first;
  }
  if (!it->second || !buggify_prng_.chance(p)) return false;
  ++buggify_fired_;
  trace_.begin(now_, TraceKind::kNote);
  trace_.str("buggify", key.first);
  trace_.u64("line", static_cast<uint64_t>(line));
  trace_.end();
  return true;
}

NodeId World::add_node(std::string name, StartFn start) {
  NodeConfig c;
  c.name = std::move(name);
  c.start = std::move(start);
  return add_node(std::move(c));
}

NodeId World::add_node(NodeConfig config) {
  const NodeId id = static_cast<NodeId>(nodes_.size());
  if (config.name.empty()) {
    char buf[32];
    snprintf(buf, sizeof buf, "n%u", id);
    config.name = buf;
  }
  if (config.addresses.empty()) {
    const uint32_t k = id + 1;
    AGENT_ASSERT_MSG(k < 250 * 250, "too many nodes for default addresses");
    config.addresses.push_back(ipv4(10, 0, static_cast<uint8_t>(k / 250), static_cast<uint8_t>(k % 250), 0));
  }
  for (auto& a : config.addresses) a.port = 0;
  if (config.facts.hostname.empty()) config.facts.hostname = config.name;
  if (config.facts.os.empty()) config.facts.os = "sim";
  if (config.facts.kernel_release.empty()) config.facts.kernel_release = "sim-1";
  if (config.facts.arch.empty()) config.facts.arch = "x86_64";
  if (config.facts.cpu_count == 0) config.facts.cpu_count = 4;
  if (config.facts.memory_total_bytes == 0) {
    config.facts.memory_total_bytes = 8ull << 30;
    config.facts.memory_available_bytes = 6ull << 30;
  }
  if (config.facts.interfaces.empty()) {
    hal::Interface eth;
    eth.name = "eth0";
    eth.index = 2;
    eth.up = true;
    eth.mtu = 1500;
    char mac[32];
    snprintf(mac, sizeof mac, "52:54:00:%02x:%02x:%02x", (id >> 16) & 0xff, (id >> 8) & 0xff, id & 0xff);
    eth.mac = mac;
    for (const auto& a : config.addresses) {
      std::string host = trace_addr(a);
      host = host.substr(0, host.rfind(':'));
      if (a.family == hal::AddrFamily::kIpv6) host = host.substr(1, host.size() - 2);
      eth.addresses.push_back(host + (a.family == hal::AddrFamily::kIpv4 ? "/24" : "/64"));
    }
    config.facts.interfaces.push_back(std::move(eth));
  }
  base::Duration skew;
  if (config_.wall_skew_max > base::Duration::zero()) {
    skew = base::Duration::nanos(prng_.range(-config_.wall_skew_max.ns(), config_.wall_skew_max.ns()));
  }
  const std::vector<hal::SockAddr> addresses = config.addresses;
  nodes_.push_back(std::unique_ptr<Node>(new Node(*this, id, std::move(config), now_,
                                                  base::WallTime::from_unix_ns(config_.wall_epoch_unix_ns), skew,
                                                  config_, derive_seed(kSeedDisk, id))));
  for (const auto& a : addresses) network_->add_address(id, a);
  Node& n = *nodes_.back();
  trace_.begin(now_, TraceKind::kAddNode);
  trace_.node(id);
  trace_.str("name", n.name());
  for (const auto& a : addresses) trace_.addr("addr", a);
  trace_.end();
  start_process(n);
  return id;
}

Node& World::node(NodeId id) {
  AGENT_ASSERT_MSG(id < nodes_.size(), "no such node");
  return *nodes_[id];
}

void World::start_process(Node& n) {
  AGENT_ASSERT(!n.inc_);
  ++n.incarnation_;
  n.inc_ = std::make_unique<Node::Incarnation>(n, *network_, derive_seed(kSeedNode, n.id(), n.incarnation()), config_);
  n.sysinfo_.process().pid = 1000 + static_cast<int64_t>(n.incarnation());
  n.same_time_runs_ = 0;
  if (n.start_) {
    Node* prev = running_;
    running_ = &n;
    n.inc_->process = n.start_(n);
    running_ = prev;
    if (n.crash_pending_) {
      // It crashed while starting (its disk lost power in an fsync, say).
      n.crash_pending_ = false;
      do_crash(n);
      return;
    }
  }
  n.inc_->space.touch();
  mark_dirty(n);
}

void World::crash(NodeId id) {
  Node& n = node(id);
  if (!n.up()) return;
  if (running_ == &n) {
    n.crash_pending_ = true;  // done when its loop iteration (or its StartFn) returns
    return;
  }
  do_crash(n);
}

void World::do_crash(Node& n) {
  trace_.begin(now_, TraceKind::kCrash);
  trace_.node(n.id());
  trace_.u64("incarnation", n.incarnation());
  trace_.end();
  // Power first: what the dying process's destructors write (SQLite's checkpoint at close)
  // must not reach the disk.
  n.fs_.power_off();
  n.inc_->net.begin_crash();
  n.inc_->process.reset();
  n.inc_->net.crash();
  n.inc_.reset();
  mark_dirty(n);  // down: it has no work until it restarts
  const uint64_t torn_before = n.fs_.torn_files();
  const size_t lost = n.fs_.crash();
  if (lost) {
    trace_.begin(now_, TraceKind::kDiskFault);
    trace_.node(n.id());
    trace_.u64("unsynced_files_lost", lost);
    if (n.fs_.torn_files() != torn_before) trace_.u64("files_torn", n.fs_.torn_files() - torn_before);
    trace_.end();
  }
}

void World::restart(NodeId id) {
  Node& n = node(id);
  AGENT_ASSERT_MSG(!n.up(), "restart of a node that is up");
  trace_.begin(now_, TraceKind::kRestart);
  trace_.node(id);
  trace_.u64("incarnation", n.incarnation() + 1);
  trace_.end();
  start_process(n);
  network_->resume_stalled();
}

PartitionId World::partition(const std::vector<NodeId>& a, const std::vector<NodeId>& b) {
  return network_->add_partition(a, b, true);
}

PartitionId World::partition_oneway(const std::vector<NodeId>& from, const std::vector<NodeId>& to) {
  return network_->add_partition(from, to, false);
}

PartitionId World::isolate(NodeId id) {
  std::vector<NodeId> others;
  for (NodeId i = 0; i < nodes_.size(); ++i) {
    if (i != id) others.push_back(i);
  }
  return partition({id}, others);
}

bool World::heal(PartitionId id) { return network_->heal(id); }
void World::heal() { network_->heal_all(); }

void World::set_link_faults(const LinkFaults& faults) {
  network_->set_default_faults(faults);
  trace_.begin(now_, TraceKind::kLinkFaults);
  trace_.str("link", "default");
  trace_.u64("loss_ppm", static_cast<uint64_t>(faults.loss_probability * 1e6));
  trace_.u64("dup_ppm", static_cast<uint64_t>(faults.duplicate_probability * 1e6));
  trace_.u64("delay_min_ns", static_cast<uint64_t>(faults.delay_min.ns()));
  trace_.u64("delay_max_ns", static_cast<uint64_t>(faults.delay_max.ns()));
  trace_.end();
}

void World::set_link_faults(NodeId from, NodeId to, const LinkFaults& faults) {
  network_->set_link_faults(from, to, faults);
  trace_.begin(now_, TraceKind::kLinkFaults);
  trace_.node(from);
  trace_.u64("to", to);
  trace_.u64("loss_ppm", static_cast<uint64_t>(faults.loss_probability * 1e6));
  trace_.u64("dup_ppm", static_cast<uint64_t>(faults.duplicate_probability * 1e6));
  trace_.u64("delay_min_ns", static_cast<uint64_t>(faults.delay_min.ns()));
  trace_.u64("delay_max_ns", static_cast<uint64_t>(faults.delay_max.ns()));
  trace_.end();
}

void World::clear_link_faults(NodeId from, NodeId to) {
  network_->clear_link_faults(from, to);
  trace_.begin(now_, TraceKind::kLinkFaults);
  trace_.node(from);
  trace_.u64("to", to);
  trace_.str("faults", "default");
  trace_.end();
}

void World::jump_wall_clock(NodeId id, base::Duration delta) {
  Node& n = node(id);
  n.clock_.jump_wall(delta);
  trace_.begin(now_, TraceKind::kClockJump);
  trace_.node(id);
  trace_.u64("delta_ns", static_cast<uint64_t>(delta.ns()));
  trace_.end();
}

size_t World::raise_signal(NodeId id, hal::Signal signal) {
  Node& n = node(id);
  trace_.begin(now_, TraceKind::kSignal);
  trace_.node(id);
  trace_.u64("signal", static_cast<uint64_t>(signal));
  trace_.end();
  if (!n.up()) return 0;
  return n.signals().raise(signal);
}

void World::note(std::string_view text) {
  trace_.begin(now_, TraceKind::kNote);
  trace_.str("text", text);
  trace_.end();
}

void World::at(base::MonoTime time, std::function<void()> fn) {
  AGENT_ASSERT(fn);
  if (time < now_) time = now_;
  events_.emplace(EventKey{time.ns(), next_event_seq_++}, std::move(fn));
}

void World::mark_dirty(Node& n) {
  if (n.dirty_) return;
  n.dirty_ = true;
  dirty_.push_back(n.id());
}

void World::unfile(Node& n) {
  switch (n.filed_) {
    case Node::Filed::kNowhere:
      break;
    case Node::Filed::kDue:
      due_.erase(n.id());
      break;
    case Node::Filed::kFuture:
      future_.erase({n.filed_ns_, n.id()});
      break;
  }
  n.filed_ = Node::Filed::kNowhere;
}

void World::refile() {
  // Recomputing a node's time never marks a node dirty (Node::next_time only reads), so this
  // loop ends; the order of dirty_ does not matter since each node is filed by its own time.
  for (NodeId id : dirty_) {
    Node& n = *nodes_[id];
    AGENT_ASSERT(n.dirty_);
    n.dirty_ = false;
    unfile(n);
    const base::MonoTime t = n.next_time(now_);
    if (t.is_never()) continue;
    if (t <= now_) {
      n.filed_ = Node::Filed::kDue;
      due_.insert(id);
    } else {
      n.filed_ = Node::Filed::kFuture;
      n.filed_ns_ = t.ns();
      future_.insert({t.ns(), id});
    }
  }
  dirty_.clear();
  // Time has moved on since some nodes were filed: those whose time has come are due now, and
  // then tie with every other due node, the lowest id first -- as a scan of all nodes in id
  // order, taking the earliest time, would choose.
  while (!future_.empty() && future_.begin()->first <= now_.ns()) {
    const NodeId id = future_.begin()->second;
    future_.erase(future_.begin());
    Node& n = *nodes_[id];
    n.filed_ = Node::Filed::kDue;
    due_.insert(id);
  }
}

std::pair<Node*, base::MonoTime> World::next_node() {
  refile();
  if (!due_.empty()) return {nodes_[*due_.begin()].get(), now_};
  if (!future_.empty()) {
    const auto& [ns, id] = *future_.begin();
    return {nodes_[id].get(), base::MonoTime::from_ns(ns)};
  }
  return {nullptr, base::MonoTime::never()};
}

base::MonoTime World::next_time() {
  base::MonoTime t = next_node().second;
  if (!events_.empty()) {
    const base::MonoTime ev = base::MonoTime::from_ns(events_.begin()->first.first);
    if (ev < t) t = ev;
  }
  return t;
}

bool World::step() {
  auto [n, node_time] = next_node();
  const base::MonoTime ev_time =
      events_.empty() ? base::MonoTime::never() : base::MonoTime::from_ns(events_.begin()->first.first);
  if (ev_time.is_never() && node_time.is_never()) return false;
  if (ev_time <= node_time) {
    auto handle = events_.extract(events_.begin());
    AGENT_ASSERT(ev_time >= now_);
    now_ = ev_time;
    handle.mapped()();
  } else {
    AGENT_ASSERT(node_time >= now_);
    now_ = node_time;
    run_node(*n);
  }
  ++steps_;
  after_step();
  return true;
}

void World::run_node(Node& n) {
  // The livelock check counts each node's runs at one time; a count from an earlier time is
  // stale and starts again (rather than resetting every node whenever time moves).
  if (n.same_time_at_ != now_) {
    n.same_time_at_ = now_;
    n.same_time_runs_ = 0;
  }
  if (last_run_time_ == now_) {
    ++n.same_time_runs_;
    if (n.same_time_runs_ > config_.same_time_runs_max) {
      fprintf(stderr, "sim: node %s ran %llu times at t=%lld ns without time advancing (livelock); seed=%llu\n",
              n.name().c_str(), static_cast<unsigned long long>(n.same_time_runs_),
              static_cast<long long>(now_.ns()), static_cast<unsigned long long>(seed_));
      AGENT_ASSERT_MSG(false, "simulated node livelocked");
    }
  } else {
    last_run_time_ = now_;
  }
  trace_.begin(now_, TraceKind::kNodeRun);
  trace_.node(n.id());
  trace_.u64("iteration", n.inc_->loop.iterations() + 1);
  trace_.end();
  running_ = &n;
  n.inc_->space.touch();  // whatever the node does, its readiness is recomputed afterwards
  base::Status st = n.inc_->loop.run_once(base::Duration::zero());
  AGENT_ASSERT_MSG(st.is_ok(), "simulated loop failed");
  running_ = nullptr;
  if (n.inc_) n.inc_->space.touch();
  if (n.crash_pending_) {
    n.crash_pending_ = false;
    do_crash(n);
  }
}

void World::after_step() {
  for (auto& fn : on_step_) fn();
}

void World::run_until(base::MonoTime deadline) {
  while (true) {
    const base::MonoTime t = next_time();
    if (t.is_never() || t > deadline) break;
    step();
  }
  if (deadline > now_ && !deadline.is_never()) now_ = deadline;
}

bool World::run_until(const std::function<bool()>& predicate, base::MonoTime deadline) {
  if (predicate()) return true;
  while (true) {
    const base::MonoTime t = next_time();
    if (t.is_never() || t > deadline) break;
    step();
    if (predicate()) return true;
  }
  if (deadline > now_ && !deadline.is_never()) now_ = deadline;
  return predicate();
}

}  // namespace sim
