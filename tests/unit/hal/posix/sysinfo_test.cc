// Proves PosixSysInfo reports sane facts about this machine and process: CPUs and memory
// present, a loopback interface with 127.0.0.1/8, interfaces sorted by name, our own pid and a
// resident set, descriptors counted, and the environment as the OS holds it.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>

#include "hal/posix/posix_net.h"
#include "hal/posix/posix_sysinfo.h"

namespace {

using hal::posix::PosixSysInfo;

TEST(PosixSysInfo, MachineFactsAreSane) {
  PosixSysInfo sys;
  auto facts = sys.read();
  ASSERT_TRUE(facts.is_ok()) << facts.status().to_string();
  EXPECT_EQ(facts->os, "linux");
  EXPECT_FALSE(facts->hostname.empty());
  EXPECT_FALSE(facts->kernel_release.empty());
  EXPECT_FALSE(facts->arch.empty());
  EXPECT_GE(facts->cpu_count, 1u);
  EXPECT_GT(facts->memory_total_bytes, 0u);
  EXPECT_GT(facts->memory_available_bytes, 0u);
  EXPECT_LE(facts->memory_available_bytes, facts->memory_total_bytes);
}

TEST(PosixSysInfo, InterfacesAreSortedAndIncludeLoopback) {
  PosixSysInfo sys;
  auto facts = sys.read();
  ASSERT_TRUE(facts.is_ok());
  const auto& ifs = facts->interfaces;
  ASSERT_FALSE(ifs.empty());
  EXPECT_TRUE(std::is_sorted(
      ifs.begin(), ifs.end(),
      [](const hal::Interface& a, const hal::Interface& b) { return a.name < b.name; }));
  auto lo =
      std::find_if(ifs.begin(), ifs.end(), [](const hal::Interface& i) { return i.loopback; });
  ASSERT_NE(lo, ifs.end()) << "no loopback interface";
  EXPECT_TRUE(lo->up);
  EXPECT_GT(lo->index, 0u);
  EXPECT_GT(lo->mtu, 0u);
  EXPECT_TRUE(lo->mac.empty()) << "loopback has no hardware address, got " << lo->mac;
  EXPECT_NE(std::find(lo->addresses.begin(), lo->addresses.end(), "127.0.0.1/8"),
            lo->addresses.end());
  for (const auto& i : ifs) {
    EXPECT_FALSE(i.name.empty());
    if (!i.mac.empty()) {
      EXPECT_EQ(i.mac.size(), 17u) << i.name << " " << i.mac;
    }
    for (const auto& a : i.addresses) EXPECT_NE(a.find('/'), std::string::npos) << a;
  }
}

TEST(PosixSysInfo, SelfFacts) {
  PosixSysInfo sys;
  auto before = sys.self();
  ASSERT_TRUE(before.is_ok()) << before.status().to_string();
  EXPECT_EQ(before->pid, static_cast<int64_t>(getpid()));
  EXPECT_GT(before->rss_bytes, 0u);
  EXPECT_GE(before->rss_peak_bytes, before->rss_bytes);
  EXPECT_GE(before->open_fds, 1u);

  // One more socket is one more descriptor.
  hal::posix::PosixNet net;
  auto h = net.udp_open(hal::SockAddr::ipv4(127, 0, 0, 1, 0));
  ASSERT_TRUE(h.is_ok());
  auto after = sys.self();
  ASSERT_TRUE(after.is_ok());
  EXPECT_EQ(after->open_fds, before->open_fds + 1);
  net.close(*h);
}

TEST(PosixSysInfo, EnvironmentComesFromTheProcess) {
  ASSERT_EQ(setenv("WEFT_SYSINFO_TEST", "a=b", 1), 0);
  PosixSysInfo sys;
  auto env = sys.environment();
  EXPECT_NE(std::find(env.begin(), env.end(), "WEFT_SYSINFO_TEST=a=b"), env.end());
  unsetenv("WEFT_SYSINFO_TEST");
}

}  // namespace
