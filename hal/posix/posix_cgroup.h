// hal/posix/posix_cgroup.h -- hal::Cgroups over the cgroup file systems of Linux.
//
// What this port adds to hal/cgroup.h:
//   - The root (normally /sys/fs/cgroup) is a constructor argument, so tests can point it at a
//     directory of fake files. Nothing is touched until probe() runs: explicitly, or on the first
//     call of describe(), create(), usage() or remove(). Building a PosixEnv therefore creates no
//     group.
//   - probe() picks, in order: v2 when <root>/cgroup.controllers lists "memory" -- it creates
//     <root>/weft, enables +memory (and +cpu where offered) in <root>/cgroup.subtree_control and
//     in <root>/weft/cgroup.subtree_control, and uses v2 only if enabling memory for weft's
//     children worked; else v1 when <root>/memory/memory.limit_in_bytes exists -- it creates
//     "weft" in the memory hierarchy and in cpu (if <root>/cpu/cpu.shares exists) and cpuacct (if
//     <root>/cpuacct/cpuacct.usage exists; one group when both name the same hierarchy, as the
//     usual "cpu,cpuacct" mount does); else none. A failure to create the parent group (not root)
//     also means none; describe() says why.
//   - Knob order on v1: memory.memsw.limit_in_bytes is opened to -1 first, then
//     memory.limit_in_bytes set, then memsw set equal to it (the kernel wants memsw >= limit at
//     every step, whichever way the limit moves). No memory limit writes -1 (v1) / "max" (v2),
//     and cpu_shares 0 writes the default (cpu.shares 1024 / cpu.weight 100): a reused group
//     loses what an earlier run set.
//   - v2 swap: memory.swap.max is 0 whenever there is a memory limit (where the knob exists).
//   - remove() kills (cgroup.kill on v2 >= 5.14, else SIGKILL to each listed pid), then retries
//     rmdir while the kernel still counts dying processes, for at most kRemoveWaitMs.
//   - Knob files are opened without O_CREAT: a fake root must hold the files the kernel would.
// Threading: any thread; probing happens once under a mutex.
// Not here: moving processes (the task's child writes its own pid, hal/process.h), delegation to
// non-root agents, nested v1 hierarchies other than memory, cpu and cpuacct.
#pragma once

#include <mutex>
#include <string>

#include "hal/cgroup.h"

namespace hal::posix {

class PosixCgroups final : public hal::Cgroups {
 public:
  enum class Mode : uint8_t { kNone, kV1, kV2 };

  // How long remove() waits for killed processes to leave the group before rmdir gives up. The
  // kernel frees a SIGKILLed process's memory in milliseconds; a second covers a busy machine.
  static constexpr int kRemoveWaitMs = 1000;

  explicit PosixCgroups(std::string root = "/sys/fs/cgroup");

  // Looks at the root again (see above) and returns what it found. Idempotent.
  Mode probe();
  Mode mode();

  std::string describe() override;
  base::Result<CgroupPlacement> create(std::string_view name, const CgroupLimits& limits) override;
  base::Result<CgroupUsage> usage(std::string_view name) override;
  [[nodiscard]] base::Status remove(std::string_view name) override;

  // cpu.weight (v2) for cpu.shares (v1), as runc maps it; shares outside 2..262144 are clamped.
  static uint64_t weight_for_shares(uint32_t shares);

 private:
  struct State {
    Mode mode = Mode::kNone;
    std::string why;          // kNone: the reason
    std::string memory_dir;   // v1 memory / v2 unified: the "weft" parent group
    std::string cpu_dir;      // v1 cpu; v2: same as memory_dir when cpu is enabled, else ""
    std::string cpuacct_dir;  // v1 only; may equal cpu_dir
  };
  State probe_locked();
  State state();

  const std::string root_;
  std::mutex mu_;
  bool probed_ = false;
  State state_;
};

}  // namespace hal::posix
