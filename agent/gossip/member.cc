// Member state names and their wire mapping (member.h).
#include "agent/gossip/member.h"

namespace gossip {

std::string_view member_state_name(MemberState s) {
  switch (s) {
    case MemberState::kAlive: return "alive";
    case MemberState::kSuspect: return "suspect";
    case MemberState::kDead: return "failed";
    case MemberState::kLeft: return "left";
  }
  return "unknown";
}

wire::WireState to_wire(MemberState s) { return static_cast<wire::WireState>(static_cast<uint8_t>(s)); }
MemberState from_wire(wire::WireState s) { return static_cast<MemberState>(static_cast<uint8_t>(s)); }

}  // namespace gossip
