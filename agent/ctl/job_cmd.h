// agentctl job: jobs in Nomad's JSON shape (agent/sched/job.h).
//
//   agentctl job validate FILE
//       reads FILE ({"Job": {...}} as `nomad job run -output` writes it, or the job object) and
//       checks it as the agent would, without an agent: "Job validation successful" and a
//       one-line summary (ID, type, groups and tasks) and exit 0; otherwise every problem, one
//       per line as "<path>: <what>", on stderr and exit 1. -format json prints
//       {"Valid": true, "Job": {...}} (the job as the agent keeps it, defaults filled in) or
//       {"Valid": false, "Problems": [...], "ProblemsDropped": N} on stdout instead.
// A file that cannot be read (missing, larger than sched::kJobBytesMax) is one line on stderr and
// exit 1. Exit status as ctl.h: 0 valid, 1 invalid or unreadable, 2 usage.
#pragma once

#include <string>
#include <vector>

#include "agent/ctl/cmd_env.h"
#include "hal/fs.h"

namespace ctl {

// `args` are the words after "job". Reads files through `fs` only; never calls the agent.
int cmd_job(hal::Fs& fs, const CmdEnv& env, const std::vector<std::string>& args);

}  // namespace ctl
