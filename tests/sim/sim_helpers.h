// Shared pieces of the whole-fleet simulation tests: seed reporting and two small applications
// (a UDP/stream ping-pong and a gossip-like version spreader) that run as sim::Process on
// simulated nodes, the way SWIM and Raft fleets will.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/base/random.h"
#include "hal/sim/seeds.h"
#include "hal/sim/world.h"

// Names the seed in every failure inside the scope (GoogleTest's trace) and in an abort (an
// AGENT_ASSERT in simulated code): "seed=N (replay: WEFT_SIM_SEED=N)".
#define WEFT_SIM_SEED_SCOPE(seed)                 \
  SCOPED_TRACE(::sim::seed_banner(seed));         \
  ::sim::SeedScope weft_sim_seed_scope_##__LINE__(seed)

namespace simtest {

// If the current test has failed, prints the world's seed and the tail of its trace.
void report_failure(const sim::World& world);

// --- ping-pong ---------------------------------------------------------------------------------
// Every node pings a random node over UDP every ping_interval and answers pings with pongs; every
// stream_interval it opens a TCP connection to a random node, sends a line, half-closes, and
// expects the same line back (an echo server on every node). It keeps counters on disk: a
// durable one every 10th ping, a plain one every ping.
struct PingPongStats {
  uint64_t pings_sent = 0;
  uint64_t pongs_received = 0;
  uint64_t echoes_ok = 0;
  uint64_t echoes_failed = 0;
};

inline constexpr uint16_t kPingPort = 7000;
inline constexpr uint16_t kEchoPort = 7001;

sim::StartFn ping_pong(PingPongStats* stats, base::Duration ping_interval = base::Duration::millis(20),
                       base::Duration stream_interval = base::Duration::millis(150));

// --- gossip-like version spreading ----------------------------------------------------------------
// Node 0 issues versions 1, 2, 3, ... every issue_interval (persisting the last issued one
// durably before announcing it, so a restart never reissues). Every node periodically sends its
// highest known version to a random peer and adopts higher versions it hears. Safety invariant:
// no node ever knows a version that was not issued. `buggy` plants a bug -- a node that hears a
// version from node 1 believes it one higher -- that the invariant must catch.
struct GossipShared {
  uint64_t issued_max = 0;               // the highest version node 0 has issued
  std::map<sim::NodeId, uint64_t> known;  // each live node's highest known version
};

sim::StartFn version_gossip(GossipShared* shared, bool buggy);

}  // namespace simtest
