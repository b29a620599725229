// hal/env.h -- the bundle of HAL services one node runs on.
//
// The composition root (agent/main) gets an Env from its platform port (hal/posix/posix_env.h,
// or a simulated node from hal/sim) and hands the parts each subsystem needs to it. Nothing in
// agent/ names a platform; this struct is how it reaches one. The Env's owner keeps every part
// alive for as long as any subsystem uses it. All pointers are non-null.
#pragma once

#include <string>

#include "hal/cgroup.h"
#include "hal/clock.h"
#include "hal/entropy.h"
#include "hal/fs.h"
#include "hal/mounts.h"
#include "hal/net.h"
#include "hal/netns.h"
#include "hal/poller.h"
#include "hal/process.h"
#include "hal/signals.h"
#include "hal/sysinfo.h"

namespace hal {

struct Env {
  Clock* clock = nullptr;
  Entropy* entropy = nullptr;
  Net* net = nullptr;
  Poller* poller = nullptr;
  Signals* signals = nullptr;
  Fs* fs = nullptr;
  SysInfo* sys = nullptr;
  Processes* processes = nullptr;  // null: this port runs no commands (exec checks refused)
  Cgroups* cgroups = nullptr;      // null: tasks run without limits (the supervisor says so)
  Mounts* mounts = nullptr;        // null: image root filesystems are copied, never mounted
  NetNamespaces* netns = nullptr;  // null: no network Mode "bridge" (such allocations fail)
  // The SQLite VFS through which this node's databases must be opened (the zVfs argument of
  // sqlite3_open_v2; raft::SqliteStorageOptions::vfs, state::StoreOptions::vfs). Empty: SQLite's
  // default VFS (the posix port). A simulated node names its own VFS over its simulated disk
  // (hal/sim/sqlite_vfs.h), so its databases live, and crash, in the simulation.
  std::string sqlite_vfs;
};

}  // namespace hal
