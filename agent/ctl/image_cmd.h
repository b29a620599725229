// agentctl image: the node's container images, through the image API
// (agent/image/image_api.h).
//   image load FILE [-name NAME:TAG]   load an OCI archive, OCI layout directory or `docker save`
//                                      archive; the agent reads FILE itself (made absolute here
//                                      against `cwd`), so FILE must be readable by the agent
//   image list                         the images: names, digest, size, when loaded
//   image rm REF                       remove a name (or, by sha256:<digest>, the image)
// Threading: the calling thread.
#pragma once

#include <string>
#include <vector>

#include "agent/ctl/cmd_env.h"

namespace ctl {

int cmd_image(const CmdEnv& env, const std::vector<std::string>& args, const std::string& cwd);

}  // namespace ctl
