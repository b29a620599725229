#include "gossip_helpers.h"

#include <algorithm>
#include <cstdio>

namespace gossiptest {

void report_failure(const sim::World& world) {
  if (!::testing::Test::HasFailure()) return;
  fprintf(stderr, "sim: failure with %s\n", sim::seed_banner(world.seed()).c_str());
  world.dump_trace(stderr, 40);
}

GossipNode::GossipNode(sim::Node& node, Fleet& fleet) {
  gossip::TransportConfig tc;
  tc.name = node.name();
  tc.tags = {{"role", "worker"}};
  uint64_t& gen = fleet.generation[node.id()];
  if (fleet.options.persist_generation) ++gen;
  tc.generation = gen;
  tc.use_custom_swim = true;
  tc.swim = fleet.options.swim;
  auto d = fleet.options.processing_delay.find(node.id());
  if (d != fleet.options.processing_delay.end()) tc.test_processing_delay = d->second;
  const auto& nr = fleet.options.no_refutation;
  if (std::find(nr.begin(), nr.end(), node.id()) != nr.end()) tc.swim.test_disable_refutation = true;
  transport_ = std::make_unique<gossip::Transport>(node.env(), node.loop(), tc);
  if (fleet.options.record_events) {
    transport_->on_member_event([this](const gossip::MemberEvent& e) {
      if (events.size() < 100000) events.push_back(e);
    });
  }
  transport_->on_user_event([this](const gossip::ReceivedUserEvent& e) {
    if (user_events.size() < 100000) user_events.push_back(e);
  });
  base::Status st = transport_->start(hal::SockAddr::ipv4(0, 0, 0, 0, kGossipPort), node.address(kGossipPort));
  AGENT_ASSERT_MSG(st.is_ok(), st.to_string().c_str());
  std::vector<hal::SockAddr> seeds;
  for (sim::NodeId j : fleet.options.join_nodes) {
    if (j != node.id()) seeds.push_back(fleet.world.node(j).address(kGossipPort));
  }
  const auto& rn = fleet.options.replay_nodes;
  const bool replay = fleet.options.replay_on_join || std::find(rn.begin(), rn.end(), node.id()) != rn.end();
  if (!seeds.empty()) transport_->join(seeds, !replay).ignore();
}

sim::StartFn Fleet::start_fn() {
  return [this](sim::Node& node) -> std::unique_ptr<sim::Process> { return std::make_unique<GossipNode>(node, *this); };
}

gossip::Transport& Fleet::transport(sim::NodeId id) { return world.node(id).process_as<GossipNode>().transport(); }

void Fleet::add_nodes(size_t n) {
  const size_t base = world.node_count();
  for (size_t i = 0; i < n; ++i) world.add_node("n" + std::to_string(base + i), start_fn());
}

void Fleet::check() {
  if (!violation.empty()) return;
  ++checks;
  const size_t n = world.node_count();
  for (sim::NodeId i = 0; i < n; ++i) {
    sim::Node& node = world.node(i);
    if (!node.up()) continue;
    const uint64_t inc = transport(i).incarnation();
    uint64_t& mx = incarnation_max[node.name()];
    if (inc < mx) {
      char buf[200];
      snprintf(buf, sizeof buf, "%s's incarnation went backwards: %llu after %llu (t=%lld ms)", node.name().c_str(),
               static_cast<unsigned long long>(inc), static_cast<unsigned long long>(mx),
               static_cast<long long>(world.now().ns() / 1000000));
      violation = buf;
      return;
    }
    mx = inc;
  }
  for (sim::NodeId i = 0; i < n; ++i) {
    if (!world.node(i).up()) continue;
    const gossip::Swim* s = transport(i).swim();
    for (sim::NodeId j = 0; j < n; ++j) {
      if (i == j) continue;
      const gossip::Member* m = s->member(world.node(j).name());
      if (m == nullptr) continue;
      auto it = incarnation_max.find(m->name);
      const uint64_t held = it == incarnation_max.end() ? 0 : it->second;
      if (m->incarnation > held) {
        char buf[200];
        snprintf(buf, sizeof buf, "%s believes %s at incarnation %llu, which it never held (max %llu)",
                 world.node(i).name().c_str(), m->name.c_str(), static_cast<unsigned long long>(m->incarnation),
                 static_cast<unsigned long long>(held));
        violation = buf;
        return;
      }
    }
  }
}

bool Fleet::converged(bool allow_suspect) {
  const size_t n = world.node_count();
  for (sim::NodeId i = 0; i < n; ++i) {
    if (!world.node(i).up()) continue;
    const gossip::Swim* s = transport(i).swim();
    for (sim::NodeId j = 0; j < n; ++j) {
      const gossip::Member* m = s->member(world.node(j).name());
      if (world.node(j).up()) {
        if (m == nullptr) return false;
        if (m->state == gossip::MemberState::kAlive) continue;
        if (allow_suspect && m->state == gossip::MemberState::kSuspect) continue;
        return false;
      }
      if (m != nullptr && (m->state == gossip::MemberState::kAlive || m->state == gossip::MemberState::kSuspect)) {
        return false;
      }
    }
  }
  return true;
}

bool Fleet::all_see_gone(sim::NodeId id) {
  const std::string& name = world.node(id).name();
  for (sim::NodeId i = 0; i < world.node_count(); ++i) {
    if (i == id || !world.node(i).up()) continue;
    const gossip::Member* m = transport(i).swim()->member(name);
    if (m != nullptr && (m->state == gossip::MemberState::kAlive || m->state == gossip::MemberState::kSuspect)) {
      return false;
    }
  }
  return true;
}

void Fleet::dump(FILE* out) {
  fprintf(out, "fleet at t=%.3f s:\n", static_cast<double>(world.now().ns()) / 1e9);
  for (sim::NodeId i = 0; i < world.node_count(); ++i) {
    if (!world.node(i).up()) {
      fprintf(out, "  %s: down\n", world.node(i).name().c_str());
      continue;
    }
    gossip::Transport& t = transport(i);
    fprintf(out, "  %s inc=%llu health=%u:", world.node(i).name().c_str(),
            static_cast<unsigned long long>(t.incarnation()), t.health_score());
    for (const auto& m : t.members()) {
      fprintf(out, " %s/%s/%llu", m.name.c_str(), std::string(gossip::member_state_name(m.state)).c_str(),
              static_cast<unsigned long long>(m.incarnation & 0xffffffffu));
    }
    const auto& c = t.swim_counters();
    fprintf(out, " [ev rx %llu dup %llu stale %llu; dgram in %llu out %llu decode_err %llu; q %zu]",
            static_cast<unsigned long long>(c.user_events_received), static_cast<unsigned long long>(c.user_events_duplicate),
            static_cast<unsigned long long>(c.user_events_stale), static_cast<unsigned long long>(c.datagrams_in),
            static_cast<unsigned long long>(c.datagrams_out), static_cast<unsigned long long>(c.decode_errors),
            t.swim()->broadcasts_queued());
    fprintf(out, " [pp opened %llu failed %llu served %llu; streams fail %llu refused %llu]\n",
            static_cast<unsigned long long>(c.push_pulls_opened), static_cast<unsigned long long>(c.push_pulls_failed),
            static_cast<unsigned long long>(c.push_pulls_served),
            static_cast<unsigned long long>(t.counters().streams_failed),
            static_cast<unsigned long long>(t.counters().streams_refused));
  }
}

bool Fleet::anyone_sees_dead(sim::NodeId id) {
  const std::string& name = world.node(id).name();
  for (sim::NodeId i = 0; i < world.node_count(); ++i) {
    if (i == id || !world.node(i).up()) continue;
    const gossip::Member* m = transport(i).swim()->member(name);
    if (m != nullptr && m->state == gossip::MemberState::kDead) return true;
  }
  return false;
}

}  // namespace gossiptest
