// agentctl operator raft: the Raft peer set through Consul's operator API, printed as
// `consul operator raft` prints it; and the Raft lines of `agentctl status`.
//
//   agentctl operator raft list-peers
//       GET /v1/operator/raft/configuration ({"Servers":[{"ID","Node","Address","Leader",
//       "Voter","RaftProtocol"}],"Index"}) as Consul's table: Node, ID, Address, State
//       (leader/follower), Voter, RaftProtocol.
//   agentctl operator raft transfer-leader [-id ID]
//       POST /v1/operator/raft/transfer-leader[?id=ID] (no -id: any voter the leader picks)
//   agentctl operator raft remove-peer -id ID
//       DELETE /v1/operator/raft/peer?id=ID
// -format json prints the API's answer as it is. Exit status as ctl.h.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "agent/ctl/cmd_env.h"
#include "cJSON.h"

namespace ctl {

// `args` are the words after "operator".
int cmd_operator(const CmdEnv& env, const std::vector<std::string>& args);

// The Raft lines of `agentctl status` from GET /v1/status/raft's answer ({"Role","Leader",
// "LeaderAddr","Term","CommitIndex","AppliedIndex","LastIndex","Voters":[...]}), aligned with
// status's other "name:       value" lines.
void print_raft_status(const cJSON* doc, FILE* out);

}  // namespace ctl
