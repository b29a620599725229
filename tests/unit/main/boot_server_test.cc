// Proves the boot server's inputs and scripts: MACs only in iPXE's ${mac:hexhyp} form, profile
// names only of [a-z0-9-] (so no path can be built from a request), and a profile's script that
// names this node's kernel and initramfs, the serial console and the join address. The routes
// themselves are driven by tests/image/fleet_test.sh, where QEMU's iPXE boots from them.
#include "agent/main/boot_server.h"

#include <gtest/gtest.h>

#include "hal/posix/posix_fs.h"

namespace agent {
namespace {

TEST(BootServer, MacsAndProfiles) {
  EXPECT_TRUE(BootServer::valid_mac("52-54-00-88-00-04"));
  EXPECT_TRUE(BootServer::valid_mac("AA-bb-CC-dd-EE-ff"));
  for (const char* bad : {"52:54:00:88:00:04", "52-54-00-88-00-4", "52-54-00-88-00-041", "../../etc/pa", "", "5g-54-00-88-00-04"}) {
    EXPECT_FALSE(BootServer::valid_mac(bad)) << bad;
  }
  EXPECT_TRUE(BootServer::valid_profile("worker"));
  EXPECT_TRUE(BootServer::valid_profile("gpu-2"));
  for (const char* bad : {"", "..", "a/b", "Worker", "x y", "a-very-long-profile-name-over-32-bytes"}) {
    EXPECT_FALSE(BootServer::valid_profile(bad)) << bad;
  }
}

TEST(BootServer, ScriptNamesTheFilesTheConsoleAndTheJoinAddress) {
  hal::posix::PosixFs fs;
  BootServer joined(fs, "/srv/boot", "worker", "10.88.0.1");
  EXPECT_EQ(joined.script("worker"),
            "#!ipxe\n"
            "kernel /boot/worker/vmlinuz console=tty0 console=ttyS0 panic=-1 agent.retry_join=10.88.0.1\n"
            "initrd /boot/worker/initramfs.gz\n"
            "boot\n");
  BootServer alone(fs, "/srv/boot", "worker", "");
  EXPECT_EQ(alone.script("director").find("retry_join"), std::string::npos);
}

}  // namespace
}  // namespace agent
