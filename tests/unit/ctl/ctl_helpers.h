// Helpers shared by the agentctl tests: running agentctl in-process, as the binary runs it, with
// its standard streams captured, and a scratch directory per test.
#pragma once

#include <string>
#include <vector>

#include "hal/env.h"

namespace ctltest {

struct RunResult {
  int rc = -1;
  std::string out;
  std::string err;
};

// ctl::run(env, args) with `input` as standard input; returns the exit status and what it wrote.
RunResult run_ctl(hal::Env& env, const std::vector<std::string>& args,
                  const std::string& input = "");

// A new empty directory under the system's temporary directory, named `prefix` + a unique tail;
// "" if it cannot be made. The caller removes it.
std::string make_temp_dir(const std::string& prefix);

}  // namespace ctltest
