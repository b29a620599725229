// Proves PosixCgroups: against fake roots (directories holding the files the kernel would) it
// detects v2, v1 (separate and joined cpu/cpuacct hierarchies) and none, and writes exactly the
// knobs hal/cgroup.h names; on this machine (root only) a task in a 64 MiB group that allocates
// 200 MB is OOM-killed, usage() counts the kill, and remove() leaves no group behind.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "hal/posix/posix_cgroup.h"
#include "hal/posix/posix_fs.h"
#include "hal/posix/posix_process.h"
#include "test_util.h"

namespace {

using hal::posix::PosixCgroups;
using posix_test::TempDir;

class FakeRoot {
 public:
  // Writes `content` to root/relative, creating directories on the way.
  void put(const std::string& relative, std::string_view content) {
    const std::string path = dir_.join(relative);
    ASSERT_TRUE(fs_.make_dirs(path.substr(0, path.rfind('/')), 0755).is_ok());
    ASSERT_TRUE(fs_.write_file(path, base::as_bytes(content), 0644, false).is_ok());
  }
  std::string get(const std::string& relative) {
    auto r = fs_.read_file(dir_.join(relative), 4096);
    return r.is_ok() ? *r : "<" + r.status().to_string() + ">";
  }
  const std::string& path() const { return dir_.path(); }
  std::string join(const std::string& relative) const { return dir_.join(relative); }
  hal::posix::PosixFs& fs() { return fs_; }

 private:
  TempDir dir_;
  hal::posix::PosixFs fs_;
};

TEST(PosixCgroups, CpuWeightMappingIsRuncs) {
  EXPECT_EQ(PosixCgroups::weight_for_shares(2), 1u);
  EXPECT_EQ(PosixCgroups::weight_for_shares(1024), 39u);
  EXPECT_EQ(PosixCgroups::weight_for_shares(262144), 10000u);
  EXPECT_EQ(PosixCgroups::weight_for_shares(0), 1u);            // clamped up
  EXPECT_EQ(PosixCgroups::weight_for_shares(1000000), 10000u);  // clamped down
}

TEST(PosixCgroups, FakeV2WritesMemoryMaxSwapAndWeight) {
  FakeRoot root;
  root.put("cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
  root.put("cgroup.subtree_control", "");
  root.put("weft/cgroup.subtree_control", "");
  for (const char* knob : {"memory.max", "memory.swap.max", "cpu.weight", "cgroup.procs"}) {
    root.put(std::string("weft/task1/") + knob, "");
  }
  root.put("weft/task1/memory.current", "1234\n");
  root.put("weft/task1/memory.peak", "5678\n");
  root.put("weft/task1/cpu.stat", "usage_usec 250\nuser_usec 200\nsystem_usec 50\n");
  root.put("weft/task1/memory.events",
           "low 0\nhigh 0\nmax 4\noom 2\noom_kill 1\noom_group_kill 0\n");

  PosixCgroups cg(root.path());
  ASSERT_EQ(cg.probe(), PosixCgroups::Mode::kV2) << cg.describe();
  EXPECT_EQ(cg.describe(), "cgroup v2 at " + root.join("weft") + " (memory, cpu)");
  EXPECT_EQ(root.get("weft/cgroup.subtree_control"), "+cpu");  // the last of "+memory", "+cpu"

  auto p = cg.create("task1", {.memory_bytes_max = 256 << 20, .cpu_shares = 512});
  ASSERT_TRUE(p.is_ok()) << p.status().to_string();
  EXPECT_EQ(p->procs_files, std::vector<std::string>{root.join("weft/task1/cgroup.procs")});
  EXPECT_EQ(p->applied, "cgroup v2: memory.max=268435456 memory.swap.max=0 cpu.weight=20");
  EXPECT_EQ(root.get("weft/task1/memory.max"), "268435456");
  EXPECT_EQ(root.get("weft/task1/memory.swap.max"), "0");
  EXPECT_EQ(root.get("weft/task1/cpu.weight"), "20");

  // Reused with no limits: the old ones are overwritten with the defaults.
  p = cg.create("task1", {});
  ASSERT_TRUE(p.is_ok()) << p.status().to_string();
  EXPECT_EQ(p->applied, "cgroup v2: memory.max=max memory.swap.max=max cpu.weight=100");
  EXPECT_EQ(root.get("weft/task1/memory.max"), "max");

  auto u = cg.usage("task1");
  ASSERT_TRUE(u.is_ok()) << u.status().to_string();
  EXPECT_EQ(u->memory_bytes, 1234u);
  EXPECT_EQ(u->memory_peak_bytes, 5678u);
  EXPECT_EQ(u->cpu_ns, 250000u);
  EXPECT_EQ(u->oom_kills, 1u);
  EXPECT_EQ(cg.usage("absent").status().code(), base::Code::kNotFound);
}

TEST(PosixCgroups, FakeV2WithoutCpuEnablesMemoryOnly) {
  FakeRoot root;
  root.put("cgroup.controllers", "memory pids\n");
  root.put("cgroup.subtree_control", "");
  root.put("weft/cgroup.subtree_control", "");
  root.put("weft/t/memory.max", "");
  PosixCgroups cg(root.path());
  ASSERT_EQ(cg.probe(), PosixCgroups::Mode::kV2) << cg.describe();
  EXPECT_EQ(root.get("cgroup.subtree_control"), "+memory");
  EXPECT_EQ(root.get("weft/cgroup.subtree_control"), "+memory");
  EXPECT_EQ(cg.describe(), "cgroup v2 at " + root.join("weft") + " (memory)");
  auto p = cg.create("t", {.memory_bytes_max = 1000, .cpu_shares = 512});
  ASSERT_TRUE(p.is_ok()) << p.status().to_string();
  EXPECT_EQ(p->applied, "cgroup v2: memory.max=1000");  // no swap knob, no cpu controller
}

TEST(PosixCgroups, FakeV1SeparateHierarchies) {
  FakeRoot root;
  root.put("memory/memory.limit_in_bytes", "");
  root.put("cpu/cpu.shares", "");
  root.put("cpuacct/cpuacct.usage", "");
  for (const char* knob :
       {"memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "cgroup.procs"}) {
    root.put(std::string("memory/weft/t1/") + knob, "");
  }
  root.put("memory/weft/t1/memory.usage_in_bytes", "100\n");
  root.put("memory/weft/t1/memory.max_usage_in_bytes", "200\n");
  root.put("memory/weft/t1/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
  root.put("cpu/weft/t1/cpu.shares", "");
  root.put("cpu/weft/t1/cgroup.procs", "");
  root.put("cpuacct/weft/t1/cpuacct.usage", "999\n");
  root.put("cpuacct/weft/t1/cgroup.procs", "");

  PosixCgroups cg(root.path());
  ASSERT_EQ(cg.probe(), PosixCgroups::Mode::kV1) << cg.describe();
  EXPECT_EQ(cg.describe(), "cgroup v1: memory at " + root.join("memory/weft") + ", cpu at " +
                               root.join("cpu/weft") + ", cpuacct at " + root.join("cpuacct/weft"));
  auto p = cg.create("t1", {.memory_bytes_max = 64 << 20, .cpu_shares = 512});
  ASSERT_TRUE(p.is_ok()) << p.status().to_string();
  EXPECT_EQ(p->applied,
            "cgroup v1: memory.limit_in_bytes=67108864 memory.memsw.limit_in_bytes=67108864 "
            "cpu.shares=512");
  EXPECT_EQ(p->procs_files, (std::vector<std::string>{root.join("memory/weft/t1/cgroup.procs"),
                                                      root.join("cpu/weft/t1/cgroup.procs"),
                                                      root.join("cpuacct/weft/t1/cgroup.procs")}));
  EXPECT_EQ(root.get("memory/weft/t1/memory.limit_in_bytes"), "67108864");
  EXPECT_EQ(root.get("memory/weft/t1/memory.memsw.limit_in_bytes"), "67108864");
  EXPECT_EQ(root.get("cpu/weft/t1/cpu.shares"), "512");

  p = cg.create("t1", {.memory_bytes_max = 0, .cpu_shares = 1});
  ASSERT_TRUE(p.is_ok()) << p.status().to_string();
  EXPECT_EQ(p->applied,
            "cgroup v1: memory.limit_in_bytes=-1 memory.memsw.limit_in_bytes=-1 cpu.shares=2");

  auto u = cg.usage("t1");
  ASSERT_TRUE(u.is_ok()) << u.status().to_string();
  EXPECT_EQ(u->memory_bytes, 100u);
  EXPECT_EQ(u->memory_peak_bytes, 200u);
  EXPECT_EQ(u->cpu_ns, 999u);
  EXPECT_EQ(u->oom_kills, 2u);
}

TEST(PosixCgroups, FakeV1JoinedCpuCpuacctIsOneGroup) {
  FakeRoot root;
  root.put("memory/memory.limit_in_bytes", "");
  root.put("cpu,cpuacct/cpu.shares", "");
  root.put("cpu,cpuacct/cpuacct.usage", "");
  ASSERT_EQ(symlink("cpu,cpuacct", root.join("cpu").c_str()), 0);
  ASSERT_EQ(symlink("cpu,cpuacct", root.join("cpuacct").c_str()), 0);
  root.put("memory/weft/t/memory.limit_in_bytes", "");
  root.put("cpu,cpuacct/weft/t/cpu.shares", "");
  root.put("cpu,cpuacct/weft/t/cpuacct.usage", "77\n");
  PosixCgroups cg(root.path());
  ASSERT_EQ(cg.probe(), PosixCgroups::Mode::kV1) << cg.describe();
  auto p = cg.create("t", {.memory_bytes_max = 4096, .cpu_shares = 0});
  ASSERT_TRUE(p.is_ok()) << p.status().to_string();
  EXPECT_EQ(p->applied,
            "cgroup v1: memory.limit_in_bytes=4096 cpu.shares=1024");  // no memsw knob here
  EXPECT_EQ(p->procs_files.size(), 2u);
  EXPECT_EQ(cg.usage("t")->cpu_ns, 77u);
}

TEST(PosixCgroups, NoCgroupsStillCreatesAndSaysSo) {
  FakeRoot root;
  PosixCgroups cg(root.path());
  ASSERT_EQ(cg.probe(), PosixCgroups::Mode::kNone);
  EXPECT_EQ(cg.describe().rfind("no cgroups: ", 0), 0u) << cg.describe();
  auto p = cg.create("t", {.memory_bytes_max = 4096, .cpu_shares = 0});
  ASSERT_TRUE(p.is_ok()) << p.status().to_string();
  EXPECT_TRUE(p->procs_files.empty());
  EXPECT_EQ(p->applied.rfind("no cgroups: limits not applied", 0), 0u) << p->applied;
  EXPECT_TRUE(cg.usage("t").is_ok());
  EXPECT_TRUE(cg.remove("t").is_ok());
}

TEST(PosixCgroups, NamesAreOnePathSegment) {
  FakeRoot root;
  PosixCgroups cg(root.path());
  for (const char* bad : {"", ".", "..", "a/b", "../weft", "sp ace"}) {
    EXPECT_EQ(cg.create(bad, {}).status().code(), base::Code::kInvalidArgument) << bad;
    EXPECT_EQ(cg.remove(bad).code(), base::Code::kInvalidArgument) << bad;
  }
}

// The real thing: limits enforced by this machine's kernel.
TEST(PosixCgroups, RealMemoryLimitOomKillsTheTask) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to create cgroups";
  PosixCgroups cg;
  if (cg.probe() == PosixCgroups::Mode::kNone) GTEST_SKIP() << cg.describe();
  const std::string name = "weft-unit-oom-" + std::to_string(getpid());
  auto p = cg.create(name, {.memory_bytes_max = 64 << 20, .cpu_shares = 256});
  ASSERT_TRUE(p.is_ok()) << p.status().to_string();
  ASSERT_FALSE(p->procs_files.empty()) << p->applied;

  hal::posix::PosixProcesses procs;
  TempDir dir;
  auto out = procs.open_output(dir.join("out"));
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  hal::TaskSpawn s;
  // 200 MB in one string: perl where the machine has it, else the shell's own buffer.
  if (access("/usr/bin/perl", X_OK) == 0) {
    s.argv = {"perl", "-e", "my $x = 'a' x 200000000; print qq(done\\n);"};
  } else {
    s.argv = {"sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo done"};
  }
  s.env = {"PATH=/usr/bin:/bin"};
  s.stdout_fifo = dir.join("out");
  s.stderr_fifo = dir.join("out");
  s.cgroup_procs = p->procs_files;
  auto t = procs.start_task(s);
  ASSERT_TRUE(t.is_ok()) << t.status().to_string();
  const uint8_t ready = posix_test::wait_ready(t->exit, hal::kReadable);
  procs.close_exit(t->exit);
  if ((ready & hal::kReadable) == 0) procs.kill(t->pid);
  auto code = procs.try_wait(t->pid);
  ASSERT_TRUE(code.is_ok()) << code.status().to_string();
  EXPECT_EQ(*code, 128 + 9) << "expected the OOM killer's SIGKILL (" << p->applied << ")";

  auto u = cg.usage(name);
  ASSERT_TRUE(u.is_ok()) << u.status().to_string();
  EXPECT_GE(u->oom_kills, 1u);
  EXPECT_LE(u->memory_peak_bytes, uint64_t{64} << 20);
  EXPECT_GT(u->cpu_ns, 0u);

  procs.close(*out);
  ASSERT_TRUE(cg.remove(name).is_ok());
  EXPECT_EQ(cg.usage(name).status().code(), base::Code::kNotFound);
  EXPECT_TRUE(cg.remove(name).is_ok());  // absent: OK
}

// remove() kills what is still running in the group before removing it.
TEST(PosixCgroups, RealRemoveKillsWhatRuns) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to create cgroups";
  PosixCgroups cg;
  if (cg.probe() == PosixCgroups::Mode::kNone) GTEST_SKIP() << cg.describe();
  const std::string name = "weft-unit-rm-" + std::to_string(getpid());
  auto p = cg.create(name, {});
  ASSERT_TRUE(p.is_ok()) << p.status().to_string();
  hal::posix::PosixProcesses procs;
  hal::TaskSpawn s;
  s.argv = {"sleep", "1000"};
  s.env = {"PATH=/usr/bin:/bin"};
  s.cgroup_procs = p->procs_files;
  auto t = procs.start_task(s);
  ASSERT_TRUE(t.is_ok()) << t.status().to_string();
  // Our own child stays a zombie until reaped, but it has left the group when it died.
  base::Status removed = cg.remove(name);
  EXPECT_TRUE(removed.is_ok()) << removed.to_string();
  EXPECT_NE(posix_test::wait_ready(t->exit, hal::kReadable) & hal::kReadable, 0);
  procs.close_exit(t->exit);
  EXPECT_EQ(*procs.try_wait(t->pid), 128 + 9);
}

}  // namespace
