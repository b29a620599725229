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
//
// Tasks (issue 6, the supervisor's exec driver) start through start_task() instead:
//   - the child gets exactly `env`, `dir` as its working directory, `user`'s uid, gid and
//     supplementary groups (looked up in /etc/passwd and /etc/group, no NSS: the binary is static),
//     stdin from /dev/null, and stdout and stderr on the FIFOs at `stdout_fifo` / `stderr_fifo`
//     opened read-write (so the task never gets SIGPIPE when the agent is gone: its writes block
//     once the pipe's buffer is full until an agent drains it again); a session of its own
//     (setsid: a process group whose id is its pid); every other descriptor closed; default signal
//     dispositions and an empty mask; its pid written into each file of `cgroup_procs` (from
//     hal::Cgroups::create) before it runs the program, so no byte of it runs outside its limits;
//     the network namespace pinned at `netns` when given (an allocation's, hal/netns.h).
//   - argv[0] without '/' is looked up in the PATH of `env` (or /usr/local/sbin:/usr/local/bin:
//     /usr/sbin:/usr/bin:/sbin:/bin when `env` has none) before the child is made, so kNotFound
//     / kPermissionDenied come back from start_task() itself; a failure in the child before the
//     program runs (chdir, setuid, a cgroup write) comes back as an error naming the step, and the
//     child is reaped.
//   - TaskProcess.exit is a handle (a pidfd) that becomes readable once the process has ended;
//     watch it with the poller, then call try_wait() for the code (own children) and close_exit().
//   - open_output() creates the FIFO at `path` (0600) if absent and opens it read-write,
//     non-blocking, close-on-exec, with the pipe's buffer raised to kOutputPipeBytes where the OS
//     allows: read() it as any output; it never reports end of output (the agent holds a writer
//     too), so a task's end is seen on `exit`, then the FIFO is drained until kUnavailable.
//   - attach() re-attaches to a task started by an earlier agent: OK with a fresh exit handle only
//     if `pid` is alive and its start time (start_time()) equals `start_time`, so a reused pid is
//     never mistaken for the task; kNotFound otherwise. Such a process is not our child: its exit
//     is seen on the handle, but its exit code cannot be learned (try_wait says kNotFound).
//   - signal() sends `signal` (a name as kill -l prints it, "SIGTERM" or "TERM") to the process
//     group `pid`, or to the process `pid` when it leads no group (a container's init);
//     kInvalidArgument for an unknown name.
// Threading: the loop thread. Not here: a reaper for orphans when the agent is PID 1 (boot/).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "agent/base/status.h"
#include "hal/net.h"

namespace hal {

// A pipe buffer of this size holds about a second of a chatty task's output while the agent
// restarts; Linux caps it at /proc/sys/fs/pipe-max-size (1 MiB by default) for non-root users.
inline constexpr size_t kOutputPipeBytes = 1 << 20;

struct TaskSpawn {
  std::vector<std::string> argv;  // argv[0] is the program
  std::vector<std::string> env;   // NAME=value: the task's whole environment
  std::string dir;                // working directory; "" keeps the agent's
  std::string user;               // a user name or numeric uid; "" keeps the agent's
  std::string stdout_fifo;        // paths given to open_output() first
  std::string stderr_fifo;
  std::vector<std::string> cgroup_procs;  // files the child writes its pid into before exec
  std::string netns;  // a pinned network namespace (hal/netns.h) the child joins; "": the agent's
};

struct TaskProcess {
  int64_t pid = 0;
  uint64_t start_time = 0;       // start_time(pid): identifies the process across agent restarts
  Handle exit = kInvalidHandle;  // readable once the process has ended
};

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

  // Tasks: see the contract above. The base versions say kUnimplemented (ports without tasks).
  virtual base::Result<Handle> open_output(const std::string& path) {
    return base::error(base::Code::kUnimplemented, "no task output on this platform: %s", path.c_str());
  }
  virtual base::Result<TaskProcess> start_task(const TaskSpawn& spawn) {
    return base::error(base::Code::kUnimplemented, "no tasks on this platform: %s",
                       spawn.argv.empty() ? "" : spawn.argv[0].c_str());
  }
  virtual base::Result<TaskProcess> attach(int64_t pid, uint64_t start_time) {
    (void)start_time;
    return base::error(base::Code::kNotFound, "process %lld: no tasks on this platform", static_cast<long long>(pid));
  }
  // The process's start time in the OS's own unit (clock ticks since boot on Linux); 0 if gone.
  virtual uint64_t start_time(int64_t pid) {
    (void)pid;
    return 0;
  }
  virtual void close_exit(Handle exit) { (void)exit; }
  // Container runtimes (runc) start a task's process and exit. After become_subreaper() such an
  // orphan becomes the agent's child instead of init's; adopt(pid) then makes try_wait() work for
  // it (its exit code is known). Orphans no one adopted must be reaped: reap_orphans() reaps
  // every ended child that spawn()/start_task() did not start and adopt() did not name, and says
  // how many. Call it now and then (each second) once a subreaper.
  [[nodiscard]] virtual base::Status become_subreaper() {
    return base::error(base::Code::kUnimplemented, "no subreaper on this platform");
  }
  virtual void adopt(int64_t pid) { (void)pid; }
  virtual size_t reap_orphans() { return 0; }
  [[nodiscard]] virtual base::Status signal(int64_t pid, std::string_view signal) {
    (void)pid;
    return base::error(base::Code::kUnimplemented, "no signals on this platform: %.*s",
                       static_cast<int>(signal.size()), signal.data());
  }
};

}  // namespace hal
