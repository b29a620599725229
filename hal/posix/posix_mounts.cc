// PosixMounts: see posix_mounts.h.
#include "hal/posix/posix_mounts.h"

#include <errno.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <string>

#include "hal/posix/os_error.h"

namespace hal::posix {
namespace {

// The kernel copies mount options into one page.
constexpr size_t kMountDataBytesMax = 4095;

bool bad_overlay_path(std::string_view p) {
  return p.empty() || p.find_first_of(",:") != std::string_view::npos || p.find('\0') != std::string_view::npos;
}

}  // namespace

base::Status PosixMounts::mount_overlay(const std::vector<std::string>& lower_dirs, std::string_view upper,
                                        std::string_view work, std::string_view target) {
  if (lower_dirs.empty()) return base::error(base::Code::kInvalidArgument, "overlay needs at least one lower directory");
  std::string data = "lowerdir=";
  for (size_t i = lower_dirs.size(); i-- > 0;) {
    if (bad_overlay_path(lower_dirs[i])) {
      return base::error(base::Code::kInvalidArgument, "overlay lower directory %s holds ',' or ':'", lower_dirs[i].c_str());
    }
    data += lower_dirs[i];
    if (i != 0) data += ':';
  }
  if (bad_overlay_path(upper) || bad_overlay_path(work) || target.find('\0') != std::string_view::npos) {
    return base::error(base::Code::kInvalidArgument, "overlay upper or work directory holds ',' or ':'");
  }
  data += ",upperdir=" + std::string(upper) + ",workdir=" + std::string(work);
  if (data.size() > kMountDataBytesMax) {
    return base::error(base::Code::kInvalidArgument, "overlay options are %zu bytes, over the kernel's %zu", data.size(),
                       kMountDataBytesMax);
  }
  std::string t(target);
  if (::mount("overlay", t.c_str(), "overlay", 0, data.c_str()) != 0) return os_error(errno, "mount overlay on " + t);
  return base::Status::ok();
}

base::Status PosixMounts::unmount(std::string_view target) {
  std::string t(target);
  if (::umount2(t.c_str(), MNT_DETACH) != 0) {  // lazy: a dying container may still hold it
    if (errno == EINVAL) return base::error(base::Code::kNotFound, "nothing mounted on %s", t.c_str());
    return os_error(errno, "umount " + t);
  }
  return base::Status::ok();
}

base::Status PosixMounts::make_whiteout(std::string_view path) {
  std::string p(path);
  if (::mknod(p.c_str(), S_IFCHR | 0, makedev(0, 0)) != 0) return os_error(errno, "mknod whiteout " + p);
  return base::Status::ok();
}

base::Status PosixMounts::set_opaque(std::string_view dir) {
  std::string d(dir);
  if (::setxattr(d.c_str(), "trusted.overlay.opaque", "y", 1, 0) != 0) return os_error(errno, "setxattr opaque " + d);
  return base::Status::ok();
}

}  // namespace hal::posix
