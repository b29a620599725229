// SwimConfig: every tunable of the membership protocol, with the timing profiles lan, wan and
// local that Serf and memberlist users know, and one of Weft's own, fast.
//
// The lan, wan and local values are memberlist's DefaultLANConfig / DefaultWANConfig /
// DefaultLocalConfig (hashicorp/memberlist config.go, post-Lifeguard: SuspicionMult 4,
// SuspicionMaxTimeoutMult 6, AwarenessMaxMultiplier 8, GossipToTheDeadTime 30 s), and Serf's reap
// timeouts, so a comparison with Serf is like for like; config.cc lists the values it was checked
// against. fast has no memberlist counterpart: it is for small fleets on one switch, and its
// values come from measurements in the simulator (tests/sim/gossip_profile_test.cc). Each field
// says its unit and why its default is what it is.
//
// Plain values; no threading concerns. Not here: the node's name and addresses (swim.h's
// SwimIdentity), encryption keys (crypto/), socket options (transport.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "agent/base/status.h"
#include "agent/base/time.h"

namespace gossip {

enum class Profile : uint8_t { kLan, kWan, kLocal, kFast };

// "lan", "wan", "local", "fast".
std::string_view profile_name(Profile p);
bool parse_profile(std::string_view text, Profile* out);

struct SwimConfig {
  // --- failure detection (SWIM section 4, Lifeguard section IV) -----------------------------
  // Time between two probes of this member (SWIM's protocol period T'). 1 s on a LAN: with the
  // suspicion timeout below a failure is seen in a few seconds at ~1 ping per second per member.
  base::Duration probe_interval = base::Duration::seconds(1);
  // How long a direct ping waits for its ack before indirect probes start. 500 ms: far above a
  // LAN round trip, so only a lost packet or a sick node causes indirect probes.
  base::Duration probe_timeout = base::Duration::millis(500);
  // Members asked to ping a target indirectly (SWIM's k). 3 makes a false positive from one lossy
  // path unlikely without flooding the fleet.
  uint32_t indirect_checks = 3;
  // Lifeguard's suspicion timeout: min = suspicion_mult * max(1, log10(n)) * probe_interval,
  // max = suspicion_max_timeout_mult * min. 4 and 6 are memberlist's (LAN: 4 s min, 24 s max
  // for n <= 10). suspicion_mult - 2 independent confirmations shrink it from max to min.
  uint32_t suspicion_mult = 4;
  uint32_t suspicion_max_timeout_mult = 6;
  // Lifeguard's local health multiplier: the awareness score ranges over [0, awareness_max - 1]
  // and stretches this member's probe interval and probe timeout by (score + 1). 8: a very sick
  // member probes 8x more slowly rather than accusing healthy peers.
  uint32_t awareness_max = 8;

  // --- dissemination (SWIM section 4.1) ------------------------------------------------------
  // Each update is retransmitted retransmit_mult * ceil(log10(n + 1)) times. 4: memberlist's,
  // enough for high-probability delivery to every member under 10% loss.
  uint32_t retransmit_mult = 4;
  // Extra gossip rounds between probes, to spread news faster than one per probe period: every
  // gossip_interval, gossip_nodes random members (recently dead ones included, so they learn
  // they were declared dead and refute) get a packet of queued news. 200 ms / 3: memberlist's.
  base::Duration gossip_interval = base::Duration::millis(200);
  uint32_t gossip_nodes = 3;
  // Dead members still gossiped to for this long (so a falsely-declared member hears about it).
  base::Duration gossip_to_the_dead = base::Duration::seconds(30);
  // Datagram budget of the plaintext compound packet, bytes. The transport sets it to
  // packet_bytes_max minus the envelope's overhead. 1400 fits an Ethernet MTU with headers.
  size_t packet_bytes_max = 1400;
  // Updates waiting in the broadcast queue; the oldest, most-transmitted go first past it.
  size_t broadcast_queue_max = 4096;

  // --- anti-entropy (push-pull) ----------------------------------------------------------------
  // Full state exchange with one random member every push_pull_interval (memberlist scales it
  // up for fleets over 32 members: interval * ceil(log2(n) - log2(32)) + 1; we do the same). 30 s.
  base::Duration push_pull_interval = base::Duration::seconds(30);
  // Push-pull exchanges in flight at once (the transport bounds concurrent streams too).
  uint32_t push_pulls_in_flight_max = 4;
  // How long a TCP push-pull may take end to end (memberlist's TCPTimeout). 10 s on a LAN.
  base::Duration stream_timeout = base::Duration::seconds(10);

  // --- reaping (Serf's reconnect_timeout / tombstone_timeout) --------------------------------
  // A dead member is forgotten this long after it was declared dead, a left member this long
  // after it left. 24 h in Serf: long enough that a flapping machine is still recognised;
  // simulations shorten it to test what happens after.
  base::Duration dead_reap_timeout = base::Duration::seconds(24 * 3600);
  base::Duration left_reap_timeout = base::Duration::seconds(24 * 3600);
  // While a dead member is not reaped, one of them is tried by push-pull this often (Serf's
  // reconnect_interval), which heals partitions shorter than the reap time. 30 s.
  base::Duration reconnect_interval = base::Duration::seconds(30);
  // Join addresses are retried this often while one of them is not a known live member, which
  // heals partitions longer than the reap time (retry-join). 30 s.
  base::Duration rejoin_interval = base::Duration::seconds(30);

  // --- tables ------------------------------------------------------------------------------
  // Members known at once; past it new names are ignored and counted. 10 Ki: the fleet sizes
  // Weft is built for with room to spare; push-pull frames stay under wire::kPushPullBytesMax.
  size_t members_max = 10240;
  // Indirect pings this member relays for others at once (each waits probe_timeout).
  size_t relays_max = 256;
  // Serf's event buffer: Lamport times remembered for de-duplication. 512: Serf's default.
  uint32_t event_buffer_ltimes = 512;
  // Events remembered per Lamport time (several events may share one).
  uint32_t events_per_ltime_max = 16;
  // Recent user events kept for the API (/v1/event/list), newest last.
  size_t recent_events_max = 256;
  // User events held back while a join that ignores the fleet's earlier events waits for its
  // answer (Swim::join): they are delivered, or dropped as older than the join, once the answer
  // sets the floor. A hold lasts while such an exchange is outstanding, each bounded by
  // stream_timeout (the transport fails it then). Past the limit the held event with the lowest
  // Lamport time is dropped and counted: it is the likeliest to be older than the join, and a
  // newer one comes back with the next push-pull, which carries recent events.
  // 256: recent_events_max, four push-pulls' worth of events (wire::kPushPullEventsMax).
  size_t join_held_events_max = 256;
  // Effects (datagrams, events) queued for the runtime before it drains them; past it the
  // newest are dropped and counted. Large enough for a push-pull that adds 10 Ki members.
  size_t effects_max = 32768;

  // --- testing hooks -------------------------------------------------------------------------
  // Negative controls only: a member that does not refute suspicions about itself. Never set in
  // the agent.
  bool test_disable_refutation = false;
  // Negative control only: user events are not held while a join waits for its answer (the
  // race of tests/sim/gossip_join_events_test.cc). Never set in the agent.
  bool test_disable_join_event_hold = false;

  // Checks that every field is in range; kInvalidArgument names the first that is not.
  base::Status validate() const;
};

// The profile's values.
SwimConfig profile_config(Profile p);

}  // namespace gossip
