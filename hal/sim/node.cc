#include "hal/sim/node.h"

#include "hal/sim/world.h"

namespace sim {

Node::Incarnation::Incarnation(Node& node, Network& network, uint64_t seed, const SimConfig& config)
    : poller(space),
      net(network, node.id(), node.incarnation(), space, poller),
      signals(space),
      entropy(base::splitmix64(&seed)),
      loop(node.clock(), poller, config.loop_limits),
      executor(loop, base::splitmix64(&seed), config.executor_latency_min, config.executor_latency_max,
               config.executor_queue_max) {
  poller.add_source(&net);
  poller.add_source(&signals);
  space.observer = &node;
  loop.set_schedule_observer(&node);
  env.clock = &node.clock();
  env.entropy = &entropy;
  env.net = &net;
  env.poller = &poller;
  env.signals = &signals;
  env.fs = &node.fs();
  env.sys = &node.sysinfo();
  env.sqlite_vfs = node.sqlite_vfs().name();
}

Node::Node(World& world, NodeId id, NodeConfig config, const base::MonoTime& now, base::WallTime epoch,
           base::Duration wall_offset, const SimConfig& sim_config, uint64_t disk_seed)
    : world_(world),
      id_(id),
      name_(std::move(config.name)),
      addresses_(std::move(config.addresses)),
      start_(std::move(config.start)),
      clock_(now, epoch, wall_offset),
      fs_(clock_, sim_config.disk_bytes_max, disk_seed, sim_config.disk_tear_probability,
          sim_config.disk_sector_bytes),
      vfs_(std::make_unique<SqliteVfs>(name_, fs_, clock_, base::splitmix64(&disk_seed))),
      sysinfo_(std::move(config.facts), std::move(config.environment)) {
  fs_.set_crash_in_sync_probability(sim_config.disk_crash_in_sync_probability);
  // A sync that loses power crashes the node (deferred to the end of the loop iteration when the
  // node's own code is running); a node already down only needs its disk brought back.
  fs_.on_power_lost = [this] {
    if (up()) {
      world_.crash(id_);
    } else {
      fs_.crash();
    }
  };
}

hal::SockAddr Node::address(uint16_t port) const {
  AGENT_ASSERT(!addresses_.empty());
  hal::SockAddr a = addresses_.front();
  a.port = port;
  return a;
}

hal::Env& Node::env() {
  AGENT_ASSERT_MSG(inc_, "node is down");
  return inc_->env;
}
runtime::Loop& Node::loop() {
  AGENT_ASSERT_MSG(inc_, "node is down");
  return inc_->loop;
}
SimExecutor& Node::executor() {
  AGENT_ASSERT_MSG(inc_, "node is down");
  return inc_->executor;
}
SimNet& Node::net() {
  AGENT_ASSERT_MSG(inc_, "node is down");
  return inc_->net;
}
SimPoller& Node::poller() {
  AGENT_ASSERT_MSG(inc_, "node is down");
  return inc_->poller;
}
SimSignals& Node::signals() {
  AGENT_ASSERT_MSG(inc_, "node is down");
  return inc_->signals;
}
SimEntropy& Node::entropy() {
  AGENT_ASSERT_MSG(inc_, "node is down");
  return inc_->entropy;
}

void Node::on_schedule_changed() { world_.mark_dirty(*this); }

base::MonoTime Node::next_time(base::MonoTime now) {
  if (!inc_) return base::MonoTime::never();
  if (inc_->space.changed) {
    inc_->space.changed = false;
    const runtime::Loop& loop = inc_->loop;
    has_ready_ = inc_->poller.any_ready([&loop](hal::Handle h) { return loop.watching(h); });
  }
  if (has_ready_) return now;
  base::MonoTime t = inc_->loop.next_deadline();
  return t < now ? now : t;
}

}  // namespace sim
