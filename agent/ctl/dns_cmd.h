// agentctl dns NAME [TYPE]: asks the local agent's DNS server (GET /v1/agent/dns), for a console
// with no dig; prints the answer like dig's sections, or the JSON with -format json. Exit 0 for
// NOERROR, 1 for any other rcode (NXDOMAIN included) or an error.
#pragma once

#include <string>
#include <vector>

#include "agent/ctl/cmd_env.h"

namespace ctl {

int cmd_dns(const CmdEnv& env, const std::vector<std::string>& args);

}  // namespace ctl
