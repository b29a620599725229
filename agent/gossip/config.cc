// Timing profiles and validation of SwimConfig (config.h).
#include "agent/gossip/config.h"

namespace gossip {

std::string_view profile_name(Profile p) {
  switch (p) {
    case Profile::kLan: return "lan";
    case Profile::kWan: return "wan";
    case Profile::kLocal: return "local";
  }
  return "lan";
}

bool parse_profile(std::string_view text, Profile* out) {
  if (text == "lan") *out = Profile::kLan;
  else if (text == "wan") *out = Profile::kWan;
  else if (text == "local") *out = Profile::kLocal;
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
  if (effects_max < 64) return bad("effects_max");
  return base::Status::ok();
}

}  // namespace gossip
