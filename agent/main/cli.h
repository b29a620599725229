// The binary's command line: which program it is (agent or agentctl), which command, and for the
// agent, configuration loading and the run itself.
//
//   agent [flags]            run the agent with /etc/agent/*.json (or -config) and the flags
//   agent dev [flags]        one process running every role, data in a temporary directory,
//                            API on 127.0.0.1:7700, socket /tmp/weft-dev/agent.sock
//   agent version | help
//   agent ctl <command>      the same as agentctl <command>
//   agentctl <command>       the binary invoked by that name (a link made by the build)
//
// Exit status: 0 success; 1 the agent failed at start or while running; 2 the command line or
// configuration is wrong (nothing was started). agentctl has its own codes (ctl/ctl.h).
//
// Threading: call from the main thread before any other thread exists (signals are masked here).
// Not here: the first-process duties when the binary is /init (boot/).
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "agent/base/log.h"
#include "hal/env.h"

namespace agent {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

// Runs the command line `args` (args[0] is the program as invoked) on `env`; returns the exit
// status. `out` and `err` are where the program writes (stdout and stderr in the binary).
int run_command_line(hal::Env& env, const std::vector<std::string>& args, FILE* out, FILE* err);

}  // namespace agent
