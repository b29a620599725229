// agentctl alloc: the allocations this node runs (issue 6 item 8), through the node's
// allocation API (agent/supervisor/supervisor_api.cc).
//   alloc status [ID]                      every allocation, or one with its tasks and events
//   alloc logs [-f] [-stderr] [-timestamps] [-tail] [-n BYTES] ID [TASK]
//                                          a task's output (TASK may be left out when the
//                                          allocation has one task); -f follows it until the
//                                          task ends or the command is interrupted
//   alloc restart ID [TASK]                restart a task (or every running one); not counted
//                                          against the restart policy
//   alloc stop ID                          stop the allocation (its tasks are killed)
//   alloc signal [-s SIGNAL] ID [TASK]     send a signal (SIGKILL unless given, as Nomad) to a
//                                          task's process group (every running task without TASK)
// ID may be any unique prefix of an allocation's ID, as Nomad's CLI takes it.
// Threading: the calling thread.
#pragma once

#include <string>
#include <vector>

#include "agent/ctl/cmd_env.h"

namespace ctl {

int cmd_alloc(const CmdEnv& env, const std::vector<std::string>& args);

}  // namespace ctl
