// hal::posix::PosixProcesses: hal/process.h over posix_spawnp (commands) and fork + execve
// (tasks), pipes, FIFOs, pidfds and waitpid(WNOHANG).
//
// spawn() uses posix_spawn, not fork: the agent has worker threads, and glibc's posix_spawn runs
// the child on a vfork-like clone that touches nothing of the parent's before exec.
//
// start_task() needs steps posix_spawn cannot express (setsid, cgroup writes, setgroups/setuid,
// FIFOs opened read-write), so it clones as posix_spawn does (CLONE_VM | CLONE_VFORK: the child
// runs on its own stack in the agent's memory until it execs; no page tables copied). Everything the child uses -- the resolved program path,
// argv and envp arrays, uid, gid and groups (parsed here from /etc/passwd and /etc/group: the
// binary is static, so no getpwnam), file names -- is prepared in the parent before the clone; the
// child then makes only async-signal-safe system calls (the agent has threads, and a forked
// child of a threaded process may not take a lock or allocate). The parent blocks every signal
// around fork() so no handler of the agent runs in the child before it resets them. The child
// reports a failing step to the parent over a close-on-exec pipe (step number + errno); the
// parent reads until end of file (exec succeeded) or a report (it reaps the child and returns
// the step's error).
//
// What this port adds to hal/process.h:
//   - a numeric `user` with no /etc/passwd entry runs with gid = uid and no supplementary groups
//     (a name that is not in /etc/passwd is kNotFound);
//   - an empty stdout_fifo / stderr_fifo sends that stream to /dev/null;
//   - the exit handle is a pidfd (Linux >= 5.3); start_task() and attach() fail with
//     kUnimplemented on an older kernel;
//   - start_time() is field 22 of /proc/<pid>/stat (clock ticks after boot); a zombie counts as
//     gone (0), and attach() refuses one;
//   - signal() also accepts lower case ("sigterm", "term"); the signals known by name are HUP INT
//     QUIT KILL USR1 USR2 TERM ALRM CONT STOP TSTP WINCH PIPE; pid must be > 1 (a process group
//     of 0 or 1 would reach the agent's own group or every process).
//   - become_subreaper() is prctl(PR_SET_CHILD_SUBREAPER); reap_orphans() peeks at ended children
//     with waitid(WNOWAIT) and reaps those it does not own, stopping at the first one it owns
//     (its owner reaps it soon; the rest wait for the next call).
// Threading: the loop thread (start_task blocks until the child has exec'd: microseconds to
// milliseconds); the set of owned pids has its own lock.
#pragma once

#include <mutex>
#include <set>

#include "hal/process.h"

namespace hal::posix {

class PosixProcesses : public Processes {
 public:
  base::Result<Child> spawn(const std::vector<std::string>& argv) override;
  base::Result<size_t> read(Handle output, std::span<uint8_t> buf) override;
  void close(Handle output) override;
  base::Result<int> try_wait(int64_t pid) override;
  void kill(int64_t pid) override;

  base::Result<Handle> open_output(const std::string& path) override;
  base::Result<TaskProcess> start_task(const TaskSpawn& spawn) override;
  base::Result<TaskProcess> attach(int64_t pid, uint64_t start_time) override;
  uint64_t start_time(int64_t pid) override;
  void close_exit(Handle exit) override;
  [[nodiscard]] base::Status signal(int64_t pid, std::string_view signal) override;

  [[nodiscard]] base::Status become_subreaper() override;
  void adopt(int64_t pid) override;
  size_t reap_orphans() override;

  // The signal number for `name` as signal() accepts it, or 0 when unknown. For tests.
  static int signal_number(std::string_view name);

 private:
  void own(int64_t pid, bool owned);
  bool owns(int64_t pid);
  std::mutex mu_;
  std::set<int64_t> owned_;  // children started or adopted here and not yet reaped
};

}  // namespace hal::posix
