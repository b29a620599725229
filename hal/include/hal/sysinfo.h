// hal/sysinfo.h -- facts about the machine and this process.
//
// Contract: read() gathers the facts fresh each call (it reads /proc and /sys on Linux; cheap,
// but not for a hot path). Fields the platform cannot tell are left at zero/empty rather than
// failing the whole call; read() fails only if nothing could be learned. Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "agent/base/status.h"

namespace hal {

struct Interface {
  std::string name;                    // "eth0"
  uint32_t index = 0;                  // OS interface index
  bool up = false;
  bool loopback = false;
  uint32_t mtu = 0;
  std::string mac;                     // "52:54:00:12:34:56", empty if none
  std::vector<std::string> addresses;  // CIDR, e.g. "10.0.0.5/24", "fe80::1/64"
};

struct SysFacts {
  std::string hostname;
  std::string os;              // "linux", "windows"
  std::string kernel_release;  // "6.1.0-26-amd64"
  std::string arch;            // "x86_64", "aarch64"
  uint32_t cpu_count = 0;      // online logical CPUs
  uint32_t cpu_mhz = 0;        // nominal (max) MHz of one CPU; 0 if unknown
  uint64_t memory_total_bytes = 0;
  uint64_t memory_available_bytes = 0;
  std::vector<Interface> interfaces;  // sorted by name
};

struct ProcessFacts {
  int64_t pid = 0;
  uint64_t rss_bytes = 0;  // resident set size now
  uint64_t rss_peak_bytes = 0;
  uint32_t open_fds = 0;
};

class SysInfo {
 public:
  virtual ~SysInfo() = default;
  virtual base::Result<SysFacts> read() = 0;
  virtual base::Result<ProcessFacts> self() = 0;
  // The process environment as NAME=value strings, in the order the OS gives them. Config
  // loading reads this; nothing in agent/ calls getenv().
  virtual std::vector<std::string> environment() = 0;
};

}  // namespace hal
