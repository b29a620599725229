// supervisor::oci_runtime_spec -- the config.json of a task's OCI bundle (the OCI runtime
// specification, version 1.0.2, as `runc spec` writes its defaults), for the oci driver.
//
// The defaults follow runc's: namespaces pid, ipc, uts and mount (plus network unless the task
// shares the host's), the default mounts (/proc, /dev as tmpfs, /dev/pts, /dev/shm, /dev/mqueue,
// /sys read-only, the cgroup filesystem read-only), runc's default capability set, its masked
// and read-only paths, no new privileges. On top: the task's args, environment, working
// directory, uid/gid, hostname, memory limit and CPU shares in the cgroup `cgroups_path`, and
// bind mounts (the node's resolv.conf, the allocation and task directories).
// Threading: pure function.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace supervisor {

struct OciSpecInput {
  std::vector<std::string> args;
  std::vector<std::string> env;  // NAME=value
  std::string cwd = "/";
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string hostname;
  bool host_network = true;        // false: a network namespace of its own (loopback only)
  std::string netns_path;          // else this pinned namespace (an allocation's bridge network)
  uint64_t memory_bytes_max = 0;   // 0: none
  uint64_t cpu_shares = 0;         // 0: the default
  std::string cgroups_path;        // "/weft/<alloc>.<task>"
  // (host path, container path) read-write bind mounts; a file source binds a file.
  std::vector<std::pair<std::string, std::string>> binds;
};

std::string oci_runtime_spec(const OciSpecInput& in);

// "uid[:gid]" numeric, or a user name (and ":group") looked up in the image's /etc/passwd and
// /etc/group text (`passwd`, `group`; may be empty). False when a name is not found.
bool resolve_oci_user(const std::string& user, const std::string& passwd, const std::string& group, uint32_t* uid,
                      uint32_t* gid);

}  // namespace supervisor
