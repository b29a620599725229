// hal/sim/sysinfo.h -- sim::SimSysInfo: facts a test configured, returned as-is.
//
// read() returns the node's SysFacts (from NodeConfig, with defaults filled by the World:
// hostname = node name, os "sim", one "eth0" with the node's addresses). self() returns
// ProcessFacts with the pid of the current incarnation and the number of open handles the World
// keeps up to date. A test may change any fact between steps (facts() is mutable) -- a memory
// figure that drops, an interface that goes down. set_failing(true) makes both calls fail with
// kIo. Threading: the simulation thread only. Not here: anything measured for real.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "hal/sysinfo.h"

namespace sim {

class SimSysInfo final : public hal::SysInfo {
 public:
  SimSysInfo(hal::SysFacts facts, std::vector<std::string> environment)
      : facts_(std::move(facts)), environment_(std::move(environment)) {}

  base::Result<hal::SysFacts> read() override {
    if (failing_) return base::error(base::Code::kIo, "sim sysinfo: read failed (injected)");
    return facts_;
  }
  base::Result<hal::ProcessFacts> self() override {
    if (failing_) return base::error(base::Code::kIo, "sim sysinfo: self failed (injected)");
    return process_;
  }
  std::vector<std::string> environment() override { return environment_; }

  hal::SysFacts& facts() { return facts_; }
  hal::ProcessFacts& process() { return process_; }
  std::vector<std::string>& environment_vars() { return environment_; }
  void set_failing(bool failing) { failing_ = failing; }

 private:
  hal::SysFacts facts_;
  hal::ProcessFacts process_;
  std::vector<std::string> environment_;
  bool failing_ = false;
};

}  // namespace sim
