// server::autopilot_next: the leader's decisions about the cluster's membership, after Consul's
// autopilot -- which foundation to add as a non-voter, promote, or remove -- as a pure function
// of what gossip says about the foundations and the Raft configuration in use. The host
// (raft_host.cc) calls it on the leader every autopilot interval and performs the one change it
// returns with RaftCore::change_membership (dissertation chapter 4: one server at a time, so at
// most one change per call, and none while the previous one is uncommitted).
//
// Rules, in priority order:
//   1. A member (voter or learner) that gracefully LEFT the gossip cluster is removed at once
//      (Consul's "leave" path): it said it will not come back.
//   2. With cleanup_dead_servers, a member that gossip has reported failed for at least
//      dead_server_grace is removed -- a voter only if the voters still alive in gossip are a
//      majority of the current configuration (so that the removal can commit and the cluster
//      never shrinks below what it had agreed on; Consul refuses to remove failed servers when
//      too many failed at once). Never ourselves, never the last voter.
//   3. An alive foundation in gossip that is not a member is added as a learner (§4.2.1: it
//      catches up without a vote) -- unless it was removed (by remove-peer or rule 1 or 2) and
//      its gossip status has not changed since: a server killed a moment ago still looks alive
//      until gossip notices, and an operator's removal must not be undone by that; once it
//      restarts (or fails and comes back) it is added again.
//   4. A learner alive in gossip for at least server_stabilization_time since it became one is
//      promoted (the core also refuses until it has caught up, §4.2.1; the host retries), up to
//      raft::kVotersMax voters.
// Not here: Consul's last_contact_threshold health (the core's catch-up gate -- an answer within
// an election timeout and the commit index reached -- stands in for it), redundancy zones,
// upgrade migrations.
//
// Threading: pure; the caller passes the time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent/base/time.h"
#include "agent/config/config.h"
#include "agent/raft/raft.h"

namespace server {

// One foundation as gossip shows it, with when its status last changed.
struct AutopilotServer {
  raft::ServerId id = raft::kNoServer;
  bool alive = false;           // alive or suspect
  bool left = false;            // left gracefully (not alive)
  base::MonoTime status_since;  // when it last became alive / failed / left
};

struct AutopilotInput {
  base::MonoTime now;
  raft::ServerId self = raft::kNoServer;  // the leader
  raft::Membership config;                // the configuration in use (voters, learners)
  bool change_pending = false;            // its entry is not committed yet (§4.1)
  std::vector<AutopilotServer> servers;   // foundations in gossip (this datacenter)
  // When each learner became a learner (or was first seen as one by this leader).
  std::vector<std::pair<raft::ServerId, base::MonoTime>> learner_since;
  // When this host last removed each server (rule 3's hold-off).
  std::vector<std::pair<raft::ServerId, base::MonoTime>> removed_at;
};

struct AutopilotDecision {
  raft::MembershipChange change = raft::MembershipChange::kAddLearner;
  raft::ServerId id = raft::kNoServer;
  std::string reason;  // for the log
};

std::optional<AutopilotDecision> autopilot_next(const AutopilotInput& in, const config::AutopilotSettings& settings);

}  // namespace server
