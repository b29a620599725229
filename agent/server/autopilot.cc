// server::autopilot_next: see autopilot.h.
#include "agent/server/autopilot.h"

#include <algorithm>

namespace server {

namespace {

bool contains(const std::vector<raft::ServerId>& v, raft::ServerId id) { return std::find(v.begin(), v.end(), id) != v.end(); }

const AutopilotServer* find(const AutopilotInput& in, raft::ServerId id) {
  for (const AutopilotServer& s : in.servers) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

}  // namespace

std::optional<AutopilotDecision> autopilot_next(const AutopilotInput& in, const config::AutopilotSettings& settings) {
  // Chapter 4: one change at a time; the previous one must be committed first (§4.1).
  if (in.change_pending) return std::nullopt;
  const raft::Membership& c = in.config;
  const bool self_voter = contains(c.voters, in.self);
  // A voter is "alive" when gossip says so; the leader itself is alive.
  size_t alive_voters = 0;
  for (raft::ServerId v : c.voters) {
    const AutopilotServer* s = find(in, v);
    if (v == in.self || (s != nullptr && s->alive)) ++alive_voters;
  }
  const size_t quorum = c.voters.size() / 2 + 1;

  // 1 and 2: removals. Voters first, then learners; in id order (the lists are sorted).
  for (const std::vector<raft::ServerId>* list : {&c.voters, &c.learners}) {
    const bool voters = list == &c.voters;
    for (raft::ServerId id : *list) {
      if (id == in.self) continue;
      const AutopilotServer* s = find(in, id);
      if (s == nullptr || s->alive) continue;  // unknown to gossip: no evidence it is gone
      if (voters && c.voters.size() <= 1) continue;
      if (s->left) {
        return AutopilotDecision{raft::MembershipChange::kRemove, id, "left the cluster"};
      }
      if (!settings.cleanup_dead_servers) continue;
      if (in.now - s->status_since < settings.dead_server_grace) continue;
      // A voter goes only while the live voters are a majority of the configuration.
      if (voters && alive_voters < quorum) continue;
      return AutopilotDecision{raft::MembershipChange::kRemove, id, "failed for longer than autopilot.dead_server_grace"};
    }
  }
  // 3. New foundations join as learners (§4.2.1).
  if (self_voter) {
    for (const AutopilotServer& s : in.servers) {
      if (!s.alive || s.id == raft::kNoServer || s.id == in.self) continue;
      if (contains(c.voters, s.id) || contains(c.learners, s.id)) continue;
      bool held = false;
      for (const auto& [r, t] : in.removed_at) held = held || (r == s.id && s.status_since <= t);
      if (held) continue;
      if (c.voters.size() + c.learners.size() >= wire::kMembershipServersMax) break;
      return AutopilotDecision{raft::MembershipChange::kAddLearner, s.id, "a new foundation in gossip"};
    }
  }
  // 4. Stable learners are promoted.
  if (c.voters.size() >= raft::kVotersMax) return std::nullopt;
  for (raft::ServerId id : c.learners) {
    const AutopilotServer* s = find(in, id);
    if (s == nullptr || !s->alive) continue;
    base::MonoTime since = s->status_since;
    for (const auto& [l, t] : in.learner_since) {
      if (l == id) since = std::max(since, t);
    }
    if (in.now - since < settings.server_stabilization_time) continue;
    return AutopilotDecision{raft::MembershipChange::kPromote, id, "caught up and stable for autopilot.server_stabilization_time"};
  }
  return std::nullopt;
}

}  // namespace server
