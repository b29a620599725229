// A member of the fleet as this node sees it: name, address, incarnation, state, tags, and when
// the state last changed. The member table itself lives in swim.h (Swim owns it); this file is
// the value type and the state vocabulary shared by the core, the transport and the API.
//
// States follow SWIM section 4.2 plus Serf's "left": alive -> suspect -> dead by failure
// detection, any -> left by a member's own graceful leave (or an operator's force-leave).
// Incarnation numbers order statements about one member (SWIM 4.2): only the member raises its
// own incarnation, to refute a suspicion or to announce new tags.
//
// Plain values; no threading concerns. Not here: timers, the probe order, dissemination.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "agent/base/time.h"
#include "agent/wire/gossip_message.h"
#include "hal/net.h"

namespace gossip {

enum class MemberState : uint8_t { kAlive = 0, kSuspect = 1, kDead = 2, kLeft = 3 };

// "alive", "suspect", "failed" (Serf's word for dead), "left".
std::string_view member_state_name(MemberState s);
wire::WireState to_wire(MemberState s);
MemberState from_wire(wire::WireState s);

// Well-known tag keys (Serf and Consul use "role" and "vsn"; the rest are Weft's).
inline constexpr std::string_view kTagRole = "role";        // foundation | director | worker
inline constexpr std::string_view kTagRpcAddr = "rpc_addr";  // where servers take RPC, "ip:port"
inline constexpr std::string_view kTagProtocol = "vsn";      // agent protocol version, decimal
inline constexpr std::string_view kTagLabelPrefix = "label.";  // "label.<key>" = <value>

using Tags = wire::Tags;

struct Member {
  std::string name;
  hal::SockAddr addr;
  uint64_t incarnation = 0;
  MemberState state = MemberState::kAlive;
  Tags tags;
  // When `state` last changed (this node's clock).
  base::MonoTime state_change;
  bool operator==(const Member&) const = default;
};

// The incarnation a process of `generation` starts at. The agent persists its generation and
// bumps it on every start, so a restarted member's first incarnation is above every incarnation
// its previous life could have reached (2^32 refutations per life) and its peers take its alive
// message as news instead of ignoring it as stale -- or worse, taking the old life's suspicion
// for a statement about the new one. (SWIM 4.2 keeps incarnations for one life only; this is
// the usual departure, as in Serf's and Consul's persisted state.)
inline uint64_t initial_incarnation(uint64_t generation) { return generation << 32; }

}  // namespace gossip
