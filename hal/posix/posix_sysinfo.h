// hal/posix/posix_sysinfo.h -- hal::SysInfo from uname, sysconf, getifaddrs, /proc and /sys.
//
// Where each fact comes from (Linux):
//   hostname, kernel_release, arch   uname(2); os is "linux"
//   cpu_count   CPUs this process may run on (sched_getaffinity), else sysconf(ONLN): in a cpuset
//               or container that is what the agent can actually use
//   cpu_mhz     /sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq (kHz), else the first
//               "cpu MHz" line of /proc/cpuinfo (the current, not the nominal, speed), else 0
//   memory      /proc/meminfo MemTotal and MemAvailable
//   interfaces  getifaddrs(3) (netlink; no NSS, so safe in the static binary); mtu from
//               /sys/class/net/<if>/mtu else ioctl(SIOCGIFMTU); mac from
//               /sys/class/net/<if>/address (all-zero, as on loopback, reads as none); addresses in
//               CIDR, IPv4 then IPv6
//   self()      getpid, /proc/self/status VmRSS and VmHWM, entries of /proc/self/fd
// Files read here are small and bounded; a fact whose source is missing stays zero/empty.
// Threading: stateless; any thread. Not here: CPU load, disk usage, per-process statistics of
// other processes (the supervisor reads its tasks' cgroups).
#pragma once

#include "hal/sysinfo.h"

namespace hal::posix {

class PosixSysInfo final : public hal::SysInfo {
 public:
  base::Result<SysFacts> read() override;
  base::Result<ProcessFacts> self() override;
  std::vector<std::string> environment() override;
};

}  // namespace hal::posix
