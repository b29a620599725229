// Timing profiles and validation of SwimConfig (config.h).
//
// Where lan, wan and local come from. Checked field by field against hashicorp/memberlist
// config.go (master, commit 1b4c746c, July 2026), DefaultLANConfig and the two functions that
// start from it and override some fields:
//
//   memberlist field          Weft field                   LAN      WAN      Local
//   ProbeInterval             probe_interval               1 s      5 s      1 s
//   ProbeTimeout              probe_timeout                500 ms   3 s      200 ms
//   IndirectChecks            indirect_checks              3        3        1
//   RetransmitMult            retransmit_mult              4        4        2
//   SuspicionMult             suspicion_mult               4        6        3
//   SuspicionMaxTimeoutMult   suspicion_max_timeout_mult   6        6        6
//   AwarenessMaxMultiplier    awareness_max                8        8        8
//   GossipInterval            gossip_interval              200 ms   500 ms   100 ms
//   GossipNodes               gossip_nodes                 3        4        3
//   GossipToTheDeadTime       gossip_to_the_dead           30 s     60 s     15 s
//   PushPullInterval          push_pull_interval           30 s     60 s     15 s
//   TCPTimeout                stream_timeout               10 s     30 s     1 s
//   UDPBufferSize             packet_bytes_max             1400     1400     1400
//   DeadNodeReclaimTime       (none)                       0        0        0
//
// DeadNodeReclaimTime 0 means memberlist refuses a new address for a name unless the member left.
// Weft has no such field and decides differently: an alive message with a higher incarnation may
// carry a new address (swim.cc, handle_alive), since the incarnation is persisted and only the
// member itself raises it.
//
// memberlist's formulas (util.go) are the ones suspicion.h and broadcast_queue.h implement:
// suspicion min = SuspicionMult * max(1, log10(n)) * ProbeInterval, retransmits =
// RetransmitMult * ceil(log10(n + 1)), push-pull scaled past 32 members.
//
// Serf (hashicorp/serf serf/config.go DefaultConfig, commit a24f620f, June 2026) takes
// memberlist.DefaultLANConfig() unchanged, and its agent (cmd/serf/command/agent/command.go)
// swaps in DefaultWANConfig() or DefaultLocalConfig() for -profile=wan|local; neither overrides a
// timing field of memberlist (only names, addresses, keys, delegates and protocol versions).
// Serf's own timers, the same in every profile, are the reap fields below: ReconnectTimeout 24 h
// (dead_reap_timeout), TombstoneTimeout 24 h (left_reap_timeout), ReconnectInterval 30 s
// (reconnect_interval), EventBuffer 512 (event_buffer_ltimes). Serf's ReapInterval (15 s, how
// often it looks for members to reap) has no field here: Weft looks once a second (swim.cc,
// tick_reap), so a member is forgotten within a second of its timeout rather than up to 15 s after.
#include "agent/gossip/config.h"

namespace gossip {

std::string_view profile_name(Profile p) {
  switch (p) {
    case Profile::kLan: return "lan";
    case Profile::kWan: return "wan";
    case Profile::kLocal: return "local";
    case Profile::kFast: return "fast";
  }
  return "lan";
}

bool parse_profile(std::string_view text, Profile* out) {
  if (text == "lan") *out = Profile::kLan;
  else if (text == "wan") *out = Profile::kWan;
  else if (text == "local") *out = Profile::kLocal;
  else if (text == "fast") *out = Profile::kFast;
  else return false;
  return true;
}

SwimConfig profile_config(Profile p) {
  SwimConfig c;  // the defaults are memberlist's DefaultLANConfig
  switch (p) {
    case Profile::kLan:
      break;
    case Profile::kWan:
      // memberlist DefaultWANConfig: slower probes with longer timeouts for high-latency links,
      // a longer suspicion, gossip to one more member less often.
      c.stream_timeout = base::Duration::seconds(30);
      c.suspicion_mult = 6;
      c.push_pull_interval = base::Duration::seconds(60);
      c.probe_timeout = base::Duration::seconds(3);
      c.probe_interval = base::Duration::seconds(5);
      c.gossip_nodes = 4;
      c.gossip_interval = base::Duration::millis(500);
      c.gossip_to_the_dead = base::Duration::seconds(60);
      break;
    case Profile::kLocal:
      // memberlist DefaultLocalConfig: loopback, where a round trip is microseconds.
      c.stream_timeout = base::Duration::seconds(1);
      c.indirect_checks = 1;
      c.retransmit_mult = 2;
      c.suspicion_mult = 3;
      c.push_pull_interval = base::Duration::seconds(15);
      c.probe_timeout = base::Duration::millis(200);
      c.probe_interval = base::Duration::seconds(1);
      c.gossip_interval = base::Duration::millis(100);
      c.gossip_to_the_dead = base::Duration::seconds(15);
      break;
    case Profile::kFast:
      // Weft's own, for a small fleet on one switch or a lab bench (sub-millisecond round trips),
      // chosen by measurement in the simulator (tests/sim/gossip_profile_test.cc, figures in
      // tests/bench/RESULTS.md): with 8 members a crash is seen by every survivor in 2.1 s on
      // average (local 6.2 s, lan 6.1 s), with no false death at 10% loss over 20 seeds (local:
      // 39). The price: a member whose datagrams are handled 250 ms late is safe, 500 ms late is
      // declared dead now and then (local and lan tolerate 500 ms), so a node that stalls for
      // that long flaps.
      //   probe_interval 400 ms: 2.5 probes a second. 300 ms (tried; 1.6 s mean detection) gave
      //     false deaths: 2 in 30 seeds at 10% loss, 2 with a member 250 ms late.
      //   probe_timeout 100 ms: still ~100x a switched round trip, and under half the interval so
      //     relays' nacks (sent at 80% of it) reach the prober before its period ends.
      //   indirect_checks 3: lan's, not local's 1; with one relay a probe fails falsely ~6% of
      //     the time at 10% loss (direct path lost ~19%, relayed path ~34%), with three ~0.8%.
      //   suspicion_mult 3 (min 1.2 s, max 7.2 s for n <= 10), retransmit_mult 3, gossip every
      //     100 ms: news and refutations spread within a few hundred ms on a small fleet.
      //   push-pull and gossip to the dead 15 s: local's. TCP timeout 2 s, not local's 1 s: room
      //     for a push-pull stream that loses a segment (a 200 ms RTO) more than once.
      c.probe_interval = base::Duration::millis(400);
      c.probe_timeout = base::Duration::millis(100);
      c.indirect_checks = 3;
      c.retransmit_mult = 3;
      c.suspicion_mult = 3;
      c.gossip_interval = base::Duration::millis(100);
      c.gossip_to_the_dead = base::Duration::seconds(15);
      c.push_pull_interval = base::Duration::seconds(15);
      c.stream_timeout = base::Duration::seconds(2);
      break;
  }
  return c;
}

base::Status SwimConfig::validate() const {
  auto bad = [](const char* f) { return base::error(base::Code::kInvalidArgument, "gossip config: %s out of range", f); };
  if (probe_interval <= base::Duration::zero()) return bad("probe_interval");
  if (probe_timeout <= base::Duration::zero() || probe_timeout > probe_interval) return bad("probe_timeout");
  if (indirect_checks > 16) return bad("indirect_checks");
  if (suspicion_mult < 1 || suspicion_mult > 64) return bad("suspicion_mult");
  if (suspicion_max_timeout_mult < 1 || suspicion_max_timeout_mult > 64) return bad("suspicion_max_timeout_mult");
  if (awareness_max < 1 || awareness_max > 64) return bad("awareness_max");
  if (retransmit_mult < 1 || retransmit_mult > 64) return bad("retransmit_mult");
  if (gossip_interval <= base::Duration::zero()) return bad("gossip_interval");
  if (gossip_nodes > 64) return bad("gossip_nodes");
  if (packet_bytes_max < 256 || packet_bytes_max > 65507) return bad("packet_bytes_max");
  if (broadcast_queue_max < 16) return bad("broadcast_queue_max");
  if (push_pull_interval <= base::Duration::zero()) return bad("push_pull_interval");
  if (push_pulls_in_flight_max < 1) return bad("push_pulls_in_flight_max");
  if (stream_timeout <= base::Duration::zero()) return bad("stream_timeout");
  if (dead_reap_timeout <= base::Duration::zero() || left_reap_timeout <= base::Duration::zero()) {
    return bad("reap timeout");
  }
  if (reconnect_interval <= base::Duration::zero() || rejoin_interval <= base::Duration::zero()) {
    return bad("reconnect/rejoin interval");
  }
  if (members_max < 2 || members_max > 65536) return bad("members_max");
  if (relays_max < 1) return bad("relays_max");
  if (event_buffer_ltimes < 1 || event_buffer_ltimes > 65536) return bad("event_buffer_ltimes");
  if (events_per_ltime_max < 1 || events_per_ltime_max > 1024) return bad("events_per_ltime_max");
  if (join_held_events_max < 1 || join_held_events_max > 65536) return bad("join_held_events_max");
  if (effects_max < 64) return bad("effects_max");
  return base::Status::ok();
}

}  // namespace gossip
