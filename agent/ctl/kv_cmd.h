// agentctl kv: the KV store through the agent's Consul-compatible /v1/kv API, printed as
// `consul kv` prints it.
//
//   agentctl kv get KEY [-recurse] [-keys] [-separator S] [-detailed] [-stale|-consistent]
//       the value (raw, one line); -recurse: "key:value" lines; -keys: key names cut after the
//       separator ("/" unless -separator is given; "" lists every key); -detailed: every field,
//       aligned. A missing key is "Error! No key exists at: KEY" and exit 1.
//   agentctl kv put KEY [VALUE|-] [-flags N] [-cas [-modify-index N]]
//       VALUE '-' reads standard input (at most 512 KiB); no VALUE stores an empty value. -cas
//       writes only if the key's modify index is N (0, the default: only if it does not exist).
//   agentctl kv delete KEY [-recurse] [-cas -modify-index N]
//   agentctl kv watch KEY [-recurse] [-count N]
//       prints the current value, then each change (a blocking query whose index moved), until
//       interrupted or after N prints. -format json prints one API answer per line.
// With -format json, get prints the API's JSON as it is (values in base64).
// Exit status as ctl.h: 0 done, 1 the agent refused or a CAS failed or the key is missing, 2
// usage, 3 no agent.
#pragma once

#include <string>
#include <vector>

#include "agent/ctl/cmd_env.h"

namespace ctl {

// `args` are the words after "kv" (flags in any position).
int cmd_kv(const CmdEnv& env, const std::vector<std::string>& args);

}  // namespace ctl
