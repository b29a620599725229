// hal/cgroup.h -- resource limits and accounting for tasks (issue 6 item 5): one control group
// per task under Weft's own parent group.
//
// Contract:
//   - probe() looks at what the machine offers once, at start: cgroup v2 (a unified hierarchy
//     with the memory and cpu controllers enabled for Weft's parent -- what Weft's images mount),
//     v1 (the memory, cpu and cpuacct hierarchies; this development machine's v1/v2 hybrid), or
//     none. describe() says which, in one line, for the agent's log and the task's events.
//   - create(name, limits) makes the group `name` (one path segment, [A-Za-z0-9._-]) in every
//     hierarchy used, applies the limits, and returns the cgroup.procs files a child writes its
//     pid into (hal::TaskSpawn::cgroup_procs) and one line saying what was applied
//     ("cgroup v1: memory.limit_in_bytes=268435456 cpu.shares=512", or "no cgroups: limits not
//     applied"). Memory: memory_bytes_max as the hard limit (v2 memory.max, v1
//     memory.limit_in_bytes; swap not allowed where the knob exists); CPU: cpu_shares as a
//     relative weight (v1 cpu.shares 2..262144; v2 cpu.weight 1..10000, mapped as
//     1 + (shares - 2) * 9999 / 262142, as runc maps it). A group of that name left by an earlier
//     run is reused (its limits rewritten). Without cgroups create() still succeeds, with no
//     files and the line saying so: tasks run, unlimited, and the operator is told.
//   - usage(name): memory in use and its peak, CPU time used, and how many times the OOM killer
//     fired in the group. Fields the machine cannot tell are 0.
//   - remove(name) kills whatever is still in the group (v2 cgroup.kill, else SIGKILL to each pid
//     listed) and removes it; OK when absent.
// Threading: any thread (plain file I/O under /sys/fs/cgroup).
// Not here: I/O limits, pids limits, devices, freezing (the OCI runtime does those for
// containers).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/base/status.h"

namespace hal {

struct CgroupLimits {
  uint64_t memory_bytes_max = 0;  // 0: no memory limit
  uint32_t cpu_shares = 0;        // 0: the default weight
};

struct CgroupUsage {
  uint64_t memory_bytes = 0;
  uint64_t memory_peak_bytes = 0;
  uint64_t cpu_ns = 0;
  uint64_t oom_kills = 0;
};

struct CgroupPlacement {
  std::vector<std::string> procs_files;
  std::string applied;  // one line for the task's events
};

class Cgroups {
 public:
  virtual ~Cgroups() = default;
  virtual std::string describe() = 0;
  virtual base::Result<CgroupPlacement> create(std::string_view name, const CgroupLimits& limits) = 0;
  virtual base::Result<CgroupUsage> usage(std::string_view name) = 0;
  [[nodiscard]] virtual base::Status remove(std::string_view name) = 0;
};

}  // namespace hal
