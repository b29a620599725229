// boot::Kmod -- kernel modules loaded on a booted node (issue 7 item 1): the I/O side of
// modules.h's ModuleIndex.
//
//   - load_hardware() walks /sys/devices for `modalias` files, matches each against the
//     image's modules.alias and loads every matching module with its dependencies
//     (finit_module, dependencies first, each file once), then walks again while the last
//     round loaded something (a PCI driver makes virtio devices that want theirs), at most
//     kRoundsMax rounds.
//   - load(name) loads a module by name or by alias ("fs-overlay", "rtnl-link-bridge",
//     "net-pf-16-proto-12"): what the kernel asks for through /proc/sys/kernel/modprobe. The
//     image links /sbin/modprobe to the agent binary, and run_modprobe() answers the kernel's
//     `modprobe -q -- NAME`, so a bridge, an overlay mount or nftables find their modules.
//   Files come from <root>/lib/modules/<release>/ (uname's release), each read whole and
//   bounded by ModuleLimits; a module the kernel already has (EEXIST) counts as loaded.
// Threading: one thread (init's, or modprobe's own process).
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "agent/base/status.h"
#include "boot/modules.h"

namespace boot {

inline constexpr int kRoundsMax = 4;
// modalias files read in one walk of /sys/devices at most, and the walk's depth.
inline constexpr size_t kModaliasFilesMax = 4096;
inline constexpr int kSysDepthMax = 12;

struct KmodReport {
  std::vector<std::string> loaded;  // module names, in load order
  std::vector<std::string> failed;  // "name: why"
  size_t devices = 0;               // modalias files read
};

class Kmod {
 public:
  // Reads the module index of the running kernel under `root` ("" is /).
  static base::Result<std::unique_ptr<Kmod>> open(const std::string& root = "");
  KmodReport load_hardware();
  // Loads `name` (a module or an alias) with its dependencies; kNotFound when nothing has it.
  base::Status load(const std::string& name, KmodReport* report);

 private:
  Kmod(std::string dir, ModuleIndex index) : dir_(std::move(dir)), index_(std::move(index)) {}
  base::Status load_module(const std::string& module, KmodReport* report);
  std::string dir_;
  ModuleIndex index_;
  std::set<std::string> done_;  // files loaded (or found loaded) in this process
};

// `modprobe [-q] [-b] [--] NAME...` as the kernel's usermode helper runs it: exit 0 when every
// name loaded, 1 otherwise (a message on stderr unless -q).
int run_modprobe(const std::vector<std::string>& args);

}  // namespace boot
