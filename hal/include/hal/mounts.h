// hal/mounts.h -- the mount and file-attribute calls the image store needs beyond hal/fs.h.
//
// An image's layers are stacked into a task's root filesystem by an overlay mount, and the
// deletions a layer records (OCI whiteouts) are kept in the form overlayfs reads: a character
// device 0/0 for a deleted name and the trusted.overlay.opaque xattr for a directory whose lower
// contents are hidden (Linux's Documentation/filesystems/overlayfs.rst, "whiteouts and opaque
// directories"). agent/image/ reaches those calls only through this interface.
//
// Contract:
//   - mount_overlay() mounts an overlay at `target` (an existing directory) with `lower_dirs`
//     given LOWEST FIRST (the port reverses them into overlayfs's top-first lowerdir= list),
//     `upper` and `work` empty directories on the same filesystem. kUnimplemented where the
//     platform has no overlay; kPermissionDenied without the privilege; kInvalidArgument when
//     the option string would exceed the kernel's one-page limit; kIo otherwise.
//   - unmount() detaches the mount at `target` (lazily: processes still inside keep it until
//     they end); kNotFound when nothing is mounted there.
//   - make_whiteout() creates `path` as a 0/0 character device (needs CAP_MKNOD);
//     set_opaque() sets trusted.overlay.opaque="y" on the directory `dir` (needs CAP_SYS_ADMIN).
// Threading: every method may be called from any thread (the worker pool does image work).
// Not here: other filesystems, bind mounts, mount namespaces (the task runtime's).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "agent/base/status.h"

namespace hal {

class Mounts {
 public:
  virtual ~Mounts() = default;
  [[nodiscard]] virtual base::Status mount_overlay(const std::vector<std::string>& lower_dirs,
                                                   std::string_view upper, std::string_view work,
                                                   std::string_view target) = 0;
  [[nodiscard]] virtual base::Status unmount(std::string_view target) = 0;
  [[nodiscard]] virtual base::Status make_whiteout(std::string_view path) = 0;
  [[nodiscard]] virtual base::Status set_opaque(std::string_view dir) = 0;
};

}  // namespace hal
