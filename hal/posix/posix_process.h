// hal::posix::PosixProcesses: hal/process.h over posix_spawnp, a pipe and waitpid(WNOHANG).
// posix_spawn, not fork: the agent has worker threads, and glibc's posix_spawn runs the child on
// a vfork-like clone that touches nothing of the parent's before exec.
#pragma once

#include "hal/process.h"

namespace hal::posix {

class PosixProcesses : public Processes {
 public:
  base::Result<Child> spawn(const std::vector<std::string>& argv) override;
  base::Result<size_t> read(Handle output, std::span<uint8_t> buf) override;
  void close(Handle output) override;
  base::Result<int> try_wait(int64_t pid) override;
  void kill(int64_t pid) override;
};

}  // namespace hal::posix
