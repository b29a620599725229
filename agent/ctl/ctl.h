// agentctl: the operator's command-line client. It talks to the local agent's HTTP API over the
// agent's owner-only Unix socket, one request per call.
//
// Commands (each takes -format text|json; text is for people, json is for scripts):
//   status            node, version, roles, uptime, health; on a server also its Raft state
//                     (GET /v1/status/raft: role, term, leader, commit/applied/last index, voters)
//   logs [-f] [-level L] [-n N]   the agent's recent log lines; -f follows new ones
//   version           this client's version and, if one is running, the agent's
//   kv get|put|delete|watch   the KV store, as `consul kv` (kv_cmd.h)
//   operator raft list-peers|transfer-leader|remove-peer   as `consul operator raft` (operator_cmd.h)
//   job validate FILE   checks a job file locally, as `nomad job validate` (job_cmd.h)
//   help
// Global flags, before or after the command: -socket PATH, -format FORMAT, -timeout DURATION.
//
// Which socket: -socket, else $AGENT_SOCKET_PATH (the agent's own config variable), else the
// first that exists of /run/agent/agent.sock (images), /var/lib/agent/agent.sock (default
// data_dir) and $TMPDIR/weft-dev/agent.sock (agent dev).
//
// Exit status -- stable, for scripts:
//   0  done (status: the agent is healthy)
//   1  the agent answered with an error (status: the agent is unhealthy)
//   2  usage: unknown command or flag, bad value
//   3  no agent: the socket is missing or nobody answers on it (one line on stderr says which)
//
// Threading: runs on the calling thread with its own event loop. Not here: the console REPL
// (boot/), remote agents over TCP (later: -http-addr).
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "hal/env.h"

namespace ctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnreachable = 3;

// Runs agentctl with `args` (the words after "agentctl"); returns the exit status.
int run(hal::Env& env, const std::vector<std::string>& args, FILE* out, FILE* err);
// The same with standard input given (`kv put KEY -` reads it); run() passes stdin.
int run(hal::Env& env, const std::vector<std::string>& args, FILE* in, FILE* out, FILE* err);

}  // namespace ctl
