// Proves PosixProcesses' task calls against real processes: start_task gives the child exactly
// its environment, directory and arguments with stdout and stderr on separate FIFOs; PATH comes
// from the task's env; a failing child step comes back named; a user switch takes effect; the
// exit handle (a pidfd) becomes readable and try_wait gives the code; signal() reaches the whole
// process group by name; attach() accepts the right start time only; and a task keeps its output
// while the agent's end of the FIFO is closed (an agent restart). Waits are on handles with a
// deadline, never sleeps.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "hal/posix/posix_fs.h"
#include "hal/posix/posix_process.h"
#include "test_util.h"

namespace {

using hal::posix::PosixProcesses;
using posix_test::TempDir;
using posix_test::wait_ready;

constexpr const char* kPath = "PATH=/usr/bin:/bin";

class PosixTask : public ::testing::Test {
 protected:
  void SetUp() override {
    out_path_ = dir_.join("out.fifo");
    err_path_ = dir_.join("err.fifo");
    auto out = procs_.open_output(out_path_);
    auto err = procs_.open_output(err_path_);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    ASSERT_TRUE(err.is_ok()) << err.status().to_string();
    out_ = *out;
    err_ = *err;
  }
  void TearDown() override {
    if (out_ != hal::kInvalidHandle) procs_.close(out_);
    if (err_ != hal::kInvalidHandle) procs_.close(err_);
  }

  hal::TaskSpawn spawn_of(std::vector<std::string> argv) {
    hal::TaskSpawn s;
    s.argv = std::move(argv);
    s.env = {kPath};
    s.stdout_fifo = out_path_;
    s.stderr_fifo = err_path_;
    return s;
  }

  // Waits (at most kPatience) for the task's exit handle, closes it and reaps: the exit code, or
  // -1 when it did not end in time.
  int wait_exit(const hal::TaskProcess& t) {
    const uint8_t ready = wait_ready(t.exit, hal::kReadable);
    procs_.close_exit(t.exit);
    if ((ready & hal::kReadable) == 0) {
      procs_.kill(t.pid);
      return -1;
    }
    auto code = procs_.try_wait(t.pid);
    EXPECT_TRUE(code.is_ok()) << code.status().to_string();
    return code.is_ok() ? *code : -1;
  }

  // Everything queued in `h` now (the writers are done: read until kUnavailable).
  std::string drain(hal::Handle h) {
    std::string got;
    uint8_t buf[4096];
    for (int i = 0; i < 10000; ++i) {
      auto n = procs_.read(h, buf);
      if (!n.is_ok()) {
        EXPECT_EQ(n.status().code(), base::Code::kUnavailable) << n.status().to_string();
        break;
      }
      EXPECT_NE(*n, 0u) << "a task FIFO never reports end of output";
      if (*n == 0) break;
      got.append(reinterpret_cast<const char*>(buf), *n);
    }
    return got;
  }

  // Reads `h` until a whole line has come (at most kPatience).
  std::string read_line(hal::Handle h) {
    std::string got;
    while (got.find('\n') == std::string::npos) {
      if ((wait_ready(h, hal::kReadable) & hal::kReadable) == 0) break;
      got += drain(h);
    }
    return got;
  }

  TempDir dir_;
  PosixProcesses procs_;
  hal::posix::PosixFs fs_;
  std::string out_path_, err_path_;
  hal::Handle out_ = hal::kInvalidHandle, err_ = hal::kInvalidHandle;
};

TEST_F(PosixTask, EnvDirArgsAndSeparateStreams) {
  const std::string work = dir_.join("work");
  ASSERT_TRUE(fs_.make_dirs(work, 0755).is_ok());
  char real[4096];
  ASSERT_NE(realpath(work.c_str(), real), nullptr);
  hal::TaskSpawn s =
      spawn_of({"sh", "-c", "echo out:$FOO:$(pwd -P):$0:$1; echo err:$HOME >&2", "zero", "one"});
  s.env.push_back("FOO=bar");
  s.dir = work;
  auto t = procs_.start_task(s);
  ASSERT_TRUE(t.is_ok()) << t.status().to_string();
  EXPECT_GT(t->pid, 1);
  EXPECT_NE(t->start_time, 0u);
  EXPECT_EQ(wait_exit(*t), 0);
  EXPECT_EQ(drain(out_), std::string("out:bar:") + real + ":zero:one\n");
  EXPECT_EQ(drain(err_), "err:\n");  // HOME is not passed on: the env is exactly what was given
}

TEST_F(PosixTask, EnvironmentIsExactlyTheGivenOne) {
  hal::TaskSpawn s = spawn_of({"env"});
  s.env = {kPath, "A=1", "B=two words"};
  auto t = procs_.start_task(s);
  ASSERT_TRUE(t.is_ok()) << t.status().to_string();
  EXPECT_EQ(wait_exit(*t), 0);
  EXPECT_EQ(drain(out_), std::string(kPath) + "\nA=1\nB=two words\n");
}

TEST_F(PosixTask, ProgramIsLookedUpInTheTasksPath) {
  const std::string bin = dir_.join("bin");
  ASSERT_TRUE(fs_.make_dirs(bin, 0755).is_ok());
  ASSERT_TRUE(fs_.write_file(bin + "/hello",
                             base::as_bytes(std::string_view("#!/bin/sh\necho hi $0\n")), 0755,
                             false)
                  .is_ok());
  ASSERT_TRUE(
      fs_.write_file(bin + "/noexec", base::as_bytes(std::string_view("#!/bin/sh\n")), 0644, false)
          .is_ok());
  hal::TaskSpawn s = spawn_of({"hello"});
  s.env = {"PATH=/nonexistent:" + bin};
  auto t = procs_.start_task(s);
  ASSERT_TRUE(t.is_ok()) << t.status().to_string();
  EXPECT_EQ(wait_exit(*t), 0);
  EXPECT_EQ(drain(out_), "hi " + bin + "/hello\n");

  // Not in this PATH (though it is in the agent's): kNotFound from start_task itself.
  s.argv = {"sh"};
  auto missing = procs_.start_task(s);
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().code(), base::Code::kNotFound) << missing.status().to_string();

  s.argv = {"noexec"};
  auto denied = procs_.start_task(s);
  ASSERT_FALSE(denied.is_ok());
  EXPECT_EQ(denied.status().code(), base::Code::kPermissionDenied) << denied.status().to_string();

  s.argv = {bin + "/absent"};
  auto absent = procs_.start_task(s);
  ASSERT_FALSE(absent.is_ok());
  EXPECT_EQ(absent.status().code(), base::Code::kNotFound) << absent.status().to_string();
}

TEST_F(PosixTask, FailingChildStepIsNamed) {
  hal::TaskSpawn s = spawn_of({"true"});
  s.dir = dir_.join("no-such-dir");
  auto t = procs_.start_task(s);
  ASSERT_FALSE(t.is_ok());
  EXPECT_EQ(t.status().code(), base::Code::kNotFound);
  EXPECT_NE(t.status().message().find("chdir"), std::string::npos) << t.status().message();

  s.dir.clear();
  s.stdout_fifo = dir_.join("no-such-fifo-dir/out");
  t = procs_.start_task(s);
  ASSERT_FALSE(t.is_ok());
  EXPECT_NE(t.status().message().find("stdout"), std::string::npos) << t.status().message();

  s.stdout_fifo = out_path_;
  s.cgroup_procs = {dir_.join("no-such-cgroup/cgroup.procs")};
  t = procs_.start_task(s);
  ASSERT_FALSE(t.is_ok());
  EXPECT_NE(t.status().message().find("cgroup"), std::string::npos) << t.status().message();

  s.cgroup_procs.clear();
  s.user = "no-such-user-weft";
  t = procs_.start_task(s);
  ASSERT_FALSE(t.is_ok());
  EXPECT_EQ(t.status().code(), base::Code::kNotFound) << t.status().message();
}

TEST_F(PosixTask, ChildWritesItsPidIntoCgroupProcsBeforeExec) {
  const std::string procs_file = dir_.join("cgroup.procs");
  ASSERT_TRUE(fs_.write_file(procs_file, {}, 0644, false).is_ok());
  hal::TaskSpawn s = spawn_of({"sh", "-c", "echo $$"});
  s.cgroup_procs = {procs_file};
  auto t = procs_.start_task(s);
  ASSERT_TRUE(t.is_ok()) << t.status().to_string();
  EXPECT_EQ(wait_exit(*t), 0);
  const std::string pid = std::to_string(t->pid) + "\n";
  EXPECT_EQ(drain(out_), pid);
  EXPECT_EQ(*fs_.read_file(procs_file, 64), pid);
}

TEST_F(PosixTask, UserSwitchToNobody) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to switch users";
  for (const std::string user : {"nobody", "65534"}) {
    hal::TaskSpawn s = spawn_of({"id", "-u"});
    s.user = user;
    auto t = procs_.start_task(s);
    ASSERT_TRUE(t.is_ok()) << t.status().to_string();
    EXPECT_EQ(wait_exit(*t), 0);
    EXPECT_EQ(drain(out_), "65534\n") << user;
    EXPECT_EQ(drain(err_), "");
  }
  hal::TaskSpawn s = spawn_of({"id", "-G"});
  s.user = "nobody";
  auto t = procs_.start_task(s);
  ASSERT_TRUE(t.is_ok()) << t.status().to_string();
  EXPECT_EQ(wait_exit(*t), 0);
  EXPECT_EQ(drain(out_), "65534\n");  // root's groups are gone
}

TEST_F(PosixTask, ExitHandleBecomesReadableAndTryWaitGivesTheCode) {
  auto t = procs_.start_task(spawn_of({"sh", "-c", "exit 7"}));
  ASSERT_TRUE(t.is_ok()) << t.status().to_string();
  EXPECT_EQ(wait_exit(*t), 7);
  auto again = procs_.try_wait(t->pid);
  ASSERT_FALSE(again.is_ok());
  EXPECT_EQ(again.status().code(), base::Code::kNotFound);  // reaped: not our child any more
}

TEST_F(PosixTask, SignalByNameReachesTheWholeGroup) {
  auto t = procs_.start_task(spawn_of({"sh", "-c", "sleep 1000 & echo $!; wait"}));
  ASSERT_TRUE(t.is_ok()) << t.status().to_string();
  const std::string line = read_line(out_);
  const int64_t sleep_pid = atoll(line.c_str());
  ASSERT_GT(sleep_pid, 1) << line;
  // The sleep is not our child: watch it through attach().
  auto sleeper = procs_.attach(sleep_pid, procs_.start_time(sleep_pid));
  ASSERT_TRUE(sleeper.is_ok()) << sleeper.status().to_string();

  EXPECT_EQ(procs_.signal(t->pid, "NOSUCH").code(), base::Code::kInvalidArgument);
  EXPECT_EQ(procs_.signal(0, "TERM").code(), base::Code::kInvalidArgument);
  ASSERT_TRUE(procs_.signal(t->pid, "sigterm").is_ok());
  EXPECT_EQ(wait_exit(*t), 128 + 15);
  EXPECT_NE(wait_ready(sleeper->exit, hal::kReadable) & hal::kReadable, 0)
      << "the task's child survived";
  procs_.close_exit(sleeper->exit);
  auto code = procs_.try_wait(sleep_pid);
  EXPECT_EQ(code.status().code(), base::Code::kNotFound);  // not ours: no exit code
}

TEST_F(PosixTask, AttachAcceptsOnlyTheRightStartTime) {
  auto t = procs_.start_task(spawn_of({"sleep", "1000"}));
  ASSERT_TRUE(t.is_ok()) << t.status().to_string();
  ASSERT_NE(t->start_time, 0u);
  EXPECT_EQ(procs_.start_time(t->pid), t->start_time);

  auto wrong = procs_.attach(t->pid, t->start_time + 1);
  ASSERT_FALSE(wrong.is_ok());
  EXPECT_EQ(wrong.status().code(), base::Code::kNotFound);

  auto again = procs_.attach(t->pid, t->start_time);
  ASSERT_TRUE(again.is_ok()) << again.status().to_string();
  EXPECT_EQ(again->pid, t->pid);
  EXPECT_NE(again->exit, t->exit);

  ASSERT_TRUE(procs_.signal(t->pid, "KILL").is_ok());
  EXPECT_NE(wait_ready(again->exit, hal::kReadable) & hal::kReadable, 0);
  procs_.close_exit(again->exit);
  EXPECT_EQ(wait_exit(*t), 128 + 9);
  EXPECT_EQ(procs_.start_time(t->pid), 0u);
  EXPECT_EQ(procs_.attach(t->pid, t->start_time).status().code(), base::Code::kNotFound);
}

TEST_F(PosixTask, OutputSurvivesTheAgentClosingItsEnd) {
  // The agent "restarts": its end of the FIFO is closed before the task writes at all. The
  // background sleep keeps the FIFO open after sh has ended, as a long task would.
  procs_.close(out_);
  out_ = hal::kInvalidHandle;
  auto t = procs_.start_task(spawn_of({"sh", "-c", "sleep 1000 & echo before; echo after"}));
  ASSERT_TRUE(t.is_ok()) << t.status().to_string();
  EXPECT_EQ(wait_exit(*t), 0) << "no SIGPIPE (141) although no agent was reading";
  auto reopened = procs_.open_output(out_path_);
  ASSERT_TRUE(reopened.is_ok()) << reopened.status().to_string();
  out_ = *reopened;
  EXPECT_EQ(drain(out_), "before\nafter\n");
  // sh is reaped but its group lives on in the sleep: the group is still signalled by pid.
  EXPECT_TRUE(procs_.signal(t->pid, "KILL").is_ok());
}

TEST_F(PosixTask, OpenOutputRefusesWhatIsNotAFifo) {
  const std::string file = dir_.join("plain");
  ASSERT_TRUE(fs_.write_file(file, {}, 0644, false).is_ok());
  auto h = procs_.open_output(file);
  ASSERT_FALSE(h.is_ok());
  EXPECT_EQ(h.status().code(), base::Code::kAlreadyExists);
  // An existing FIFO is reused.
  auto again = procs_.open_output(out_path_);
  ASSERT_TRUE(again.is_ok()) << again.status().to_string();
  procs_.close(*again);
}

TEST(PosixSignalNames, StandardNamesInAnyCaseWithOrWithoutSig) {
  for (const char* name : {"SIGTERM", "TERM", "sigterm", "term", "SigTerm"}) {
    EXPECT_EQ(PosixProcesses::signal_number(name), 15) << name;
  }
  EXPECT_EQ(PosixProcesses::signal_number("HUP"), 1);
  EXPECT_EQ(PosixProcesses::signal_number("SIGKILL"), 9);
  EXPECT_EQ(PosixProcesses::signal_number("WINCH"), 28);
  for (const char* name : {"", "SIG", "SIGFOO", "15", "TERMINATE", "SIGSIGTERM"}) {
    EXPECT_EQ(PosixProcesses::signal_number(name), 0) << name;
  }
}

}  // namespace

// As a subreaper, a task's orphan (a runtime's container init, here a backgrounded sleep whose
// shell exited) becomes our child: once adopted, try_wait() gives its exit code; an orphan nobody
// adopted is reaped by reap_orphans(), and an adopted one is left for its owner.
TEST_F(PosixTask, SubreaperAdoptsOrphansAndReapsTheRest) {
  ASSERT_TRUE(procs_.become_subreaper().is_ok());
  auto t = procs_.start_task(spawn_of({"sh", "-c", "sh -c 'sleep 0.2; exit 7' & echo $!; sleep 0.1 & echo $!"}));
  ASSERT_TRUE(t.is_ok()) << t.status().to_string();
  EXPECT_EQ(wait_exit(*t), 0);
  std::string lines = drain(out_);
  while (std::count(lines.begin(), lines.end(), '\n') < 2) {
    std::string more = read_line(out_);
    if (more.empty()) break;
    lines += more;
  }
  const size_t nl = lines.find('\n');
  ASSERT_NE(nl, std::string::npos) << lines;
  const int64_t adopted = std::stoll(lines.substr(0, nl));
  const int64_t orphan = std::stoll(lines.substr(nl + 1));
  procs_.adopt(adopted);
  // The unadopted orphan is reaped; the adopted one's code is ours to take.
  int code = -1;
  bool orphan_gone = false;
  for (int i = 0; i < 400 && (code < 0 || !orphan_gone); ++i) {
    procs_.reap_orphans();
    if (code < 0) {
      auto w = procs_.try_wait(adopted);
      if (w.is_ok()) code = *w;
    }
    orphan_gone = ::kill(static_cast<pid_t>(orphan), 0) != 0;
    usleep(10 * 1000);  // bounded poll: 400 x 10 ms
  }
  EXPECT_EQ(code, 7);
  EXPECT_TRUE(orphan_gone) << "the unadopted orphan was not reaped";
}
