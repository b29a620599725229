// agentctl catalog services | nodes | service NAME [-passing]: the fleet's catalog as the
// foundations hold it (GET /v1/catalog/services, /v1/catalog/nodes, /v1/health/service/NAME), in
// columns like `consul catalog`, or the API's JSON with -format json.
#pragma once

#include <string>
#include <vector>

#include "agent/ctl/cmd_env.h"

namespace ctl {

int cmd_catalog(const CmdEnv& env, const std::vector<std::string>& args);

}  // namespace ctl
