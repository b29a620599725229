// Shared pieces of the membership simulations (tests/sim/gossip_*_test.cc): a sim::Process that
// runs a gossip::Transport on a simulated node, the fleet bookkeeping a test needs (persisted
// generations, the highest incarnation each member ever held), and the checkers run after every
// step.
//
// Each node's Transport binds 0.0.0.0:kGossipPort, advertises its primary address, and joins
// through the fleet's join nodes (node 0 by default) when it starts -- again after every restart,
// with its generation bumped as the agent does from its disk (unless a negative control turns
// persistence off).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/gossip/transport.h"
#include "hal/sim/seeds.h"
#include "hal/sim/world.h"

namespace gossiptest {

inline constexpr uint16_t kGossipPort = 7702;

struct FleetOptions {
  gossip::SwimConfig swim = gossip::profile_config(gossip::Profile::kLan);
  std::vector<sim::NodeId> join_nodes{0};
  // Negative control: the generation is not persisted, so every life starts at incarnation 0.
  bool persist_generation = true;
  // Nodes whose received datagrams are handed to the core this much later (slow but alive).
  std::map<sim::NodeId, base::Duration> processing_delay;
  // Nodes that never refute (negative control for the slow-member test).
  std::vector<sim::NodeId> no_refutation;
  // Joins deliver the user events fired before them (agentctl join -replay); by default they are
  // ignored, as the agent's start-up join does.
  bool replay_on_join = false;
  // Nodes whose joins replay whatever replay_on_join says (a fleet mixing both kinds of join).
  std::vector<sim::NodeId> replay_nodes;
  // Keep every member event in GossipNode::events. A fleet of a thousand members that only checks
  // views turns it off: the million joins it sees would otherwise hold hundreds of MB.
  bool record_events = true;
};

class GossipNode;

// Everything the test keeps across the nodes' lives.
struct Fleet {
  explicit Fleet(sim::World& w, FleetOptions o) : world(w), options(std::move(o)) {}
  sim::World& world;
  FleetOptions options;
  std::map<sim::NodeId, uint64_t> generation;      // the "disk": last generation per node
  std::map<std::string, uint64_t> incarnation_max;  // highest incarnation a member held itself
  std::string violation;                           // first invariant violation, "" if none
  uint64_t checks = 0;

  sim::StartFn start_fn();
  // The node's transport (the node must be up).
  gossip::Transport& transport(sim::NodeId id);
  // Adds `n` nodes named n0, n1, ... (after the existing ones).
  void add_nodes(size_t n);

  // Invariant checker, run after every step (install with watch()):
  //   - incarnations never go backwards: a member's own incarnation is never below the highest
  //     it ever held, across restarts;
  //   - nobody believes an incarnation of a member that the member never held.
  void check();
  void watch() {
    world.on_step([this] { check(); });
  }
  // Checks only the nodes touched since the last call would be cheaper; for big fleets tests call
  // check() on a timer instead of every step.

  // Every up node sees exactly the up nodes as alive (or suspect, if allow_suspect) and every
  // down node as not alive.
  bool converged(bool allow_suspect = false);
  // Every up node sees `id` as dead, left or unknown.
  bool all_see_gone(sim::NodeId id);
  // Prints every up node's view (for failures).
  void dump(FILE* out);
  // Some up node currently holds `id` as dead.
  bool anyone_sees_dead(sim::NodeId id);
};

class GossipNode final : public sim::Process {
 public:
  GossipNode(sim::Node& node, Fleet& fleet);
  ~GossipNode() override = default;
  gossip::Transport& transport() { return *transport_; }
  std::vector<gossip::MemberEvent> events;  // every member event this life saw (bounded by test length)
  std::vector<gossip::ReceivedUserEvent> user_events;  // every user event delivered in this life

 private:
  std::unique_ptr<gossip::Transport> transport_;
};

// Prints the seed and the trace tail when the current test failed.
void report_failure(const sim::World& world);

}  // namespace gossiptest
