// hal/posix/posix_env.h -- the POSIX port's hal::Env: one of each POSIX HAL service, owned here.
//
// agent/main (and tests) build one PosixEnv per process and pass env() to the composition root.
// Constructing it creates the epoll and eventfd descriptors (PosixPoller) and nothing else (the
// cgroups probe, and create Weft's parent group, on first use); it does not block signals --
// call env().signals->open() before starting threads for that.
// Threading: env()'s parts keep their own rules (net and poller loop-thread only, see each header).
// Ownership: the PosixEnv owns every part; it must outlive every user of env().
#pragma once

#include "hal/env.h"
#include "hal/posix/posix_cgroup.h"
#include "hal/posix/posix_clock.h"
#include "hal/posix/posix_entropy.h"
#include "hal/posix/posix_fs.h"
#include "hal/posix/posix_mounts.h"
#include "hal/posix/posix_net.h"
#include "hal/posix/posix_netns.h"
#include "hal/posix/posix_poller.h"
#include "hal/posix/posix_process.h"
#include "hal/posix/posix_signals.h"
#include "hal/posix/posix_sysinfo.h"

namespace hal::posix {

class PosixEnv {
 public:
  PosixEnv();
  PosixEnv(const PosixEnv&) = delete;
  PosixEnv& operator=(const PosixEnv&) = delete;

  // Every pointer in it is non-null and points into this PosixEnv.
  hal::Env& env() { return env_; }

  PosixClock& clock() { return clock_; }
  PosixNet& net() { return net_; }
  PosixPoller& poller() { return poller_; }
  PosixFs& fs() { return fs_; }

 private:
  PosixClock clock_;
  PosixEntropy entropy_;
  PosixNet net_;
  PosixPoller poller_;
  PosixSignals signals_;
  PosixFs fs_;
  PosixSysInfo sys_;
  PosixProcesses processes_;
  PosixCgroups cgroups_;  // probes /sys/fs/cgroup on first use, not here
  PosixMounts mounts_;
  PosixNetNamespaces netns_;
  hal::Env env_;
};

}  // namespace hal::posix
