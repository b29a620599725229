// hal/process.h -- child processes: a command started with its output in a pipe the loop can
// watch, its exit polled without blocking, and a kill of its whole process group.
//
// Contract:
//   - spawn() runs argv[0] (looked up in PATH when it holds no '/') with argv, stdin from
//     /dev/null, stdout and stderr into one pipe whose read end it returns (non-blocking,
//     close-on-exec; watch it with the loop's poller as any Handle). The child gets default signal
//     dispositions and an empty signal mask (the agent blocks the signals it reads), and a
//     process group of its own, so kill() reaches what it started too. kNotFound when the
//     program does not exist, kPermissionDenied when it is not executable.
//   - read() as Net::read: bytes, 0 at end of output, kUnavailable when none are queued.
//   - try_wait() reaps the child if it has exited: its exit code, or 128 + the signal that ended
//     it; kUnavailable while it runs. Every spawned child must be reaped (after kill() too).
//   - kill() sends SIGKILL to the child's process group.
// Threading: the loop thread. Not here: environment, working directory, user, cgroups (the
// workload runtime's, issue 6); a reaper for orphans when the agent is PID 1.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "agent/base/status.h"
#include "hal/net.h"

namespace hal {

struct Child {
  int64_t pid = 0;
  Handle output = kInvalidHandle;  // stdout and stderr
};

class Processes {
 public:
  virtual ~Processes() = default;
  virtual base::Result<Child> spawn(const std::vector<std::string>& argv) = 0;
  virtual base::Result<size_t> read(Handle output, std::span<uint8_t> buf) = 0;
  virtual void close(Handle output) = 0;
  virtual base::Result<int> try_wait(int64_t pid) = 0;
  virtual void kill(int64_t pid) = 0;
};

}  // namespace hal
