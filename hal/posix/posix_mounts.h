// hal/posix/posix_mounts.h -- hal::Mounts over Linux's mount(2), umount2(2), mknod(2) and
// setxattr(2).
//
// mount_overlay() passes "lowerdir=<top>:...:<bottom>,upperdir=...,workdir=..." to mount(2);
// paths holding ',' or ':' (overlayfs's separators) are refused rather than escaped. unmount()
// is a plain umount2(target, 0): a rootfs still in use stays mounted and the caller hears kIo.
// Threading: stateless, safe from any thread.
#pragma once

#include "hal/mounts.h"

namespace hal::posix {

class PosixMounts final : public hal::Mounts {
 public:
  [[nodiscard]] base::Status mount_overlay(const std::vector<std::string>& lower_dirs,
                                           std::string_view upper, std::string_view work,
                                           std::string_view target) override;
  [[nodiscard]] base::Status unmount(std::string_view target) override;
  [[nodiscard]] base::Status make_whiteout(std::string_view path) override;
  [[nodiscard]] base::Status set_opaque(std::string_view dir) override;
};

}  // namespace hal::posix
