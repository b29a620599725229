// See posix_process.h. The file holds spawn() and the calls shared with tasks first, then the
// task calls: FIFOs, the parent's preparation (program lookup, users and groups), the child's
// steps after fork(), and the calls on running tasks (attach, start_time, signal).
#include "hal/posix/posix_process.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "hal/posix/os_error.h"

extern char** environ;

namespace hal::posix {

namespace {

// Closes what it holds unless released.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  int release() {
    int f = fd;
    fd = -1;
    return f;
  }
};

}  // namespace

base::Result<Child> PosixProcesses::spawn(const std::vector<std::string>& argv) {
  if (argv.empty() || argv[0].empty()) return base::error(base::Code::kInvalidArgument, "no program to run");
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return os_error(errno, "pipe2");
  Fd read_end{fds[0]}, write_end{fds[1]};
  if (::fcntl(read_end.fd, F_SETFL, O_NONBLOCK) != 0) return os_error(errno, "fcntl O_NONBLOCK");

  posix_spawn_file_actions_t actions;
  if (int rc = posix_spawn_file_actions_init(&actions); rc != 0) return os_error(rc, "posix_spawn_file_actions_init");
  posix_spawnattr_t attr;
  if (int rc = posix_spawnattr_init(&attr); rc != 0) {
    posix_spawn_file_actions_destroy(&actions);
    return os_error(rc, "posix_spawnattr_init");
  }
  sigset_t none, defaults;
  sigemptyset(&none);
  sigfillset(&defaults);  // every signal back to its default action (SIGPIPE ignored by us, say)
  int rc = posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, write_end.fd, 1);
  if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, write_end.fd, 2);
  if (rc == 0) rc = posix_spawnattr_setsigmask(&attr, &none);
  if (rc == 0) rc = posix_spawnattr_setsigdefault(&attr, &defaults);
  if (rc == 0) rc = posix_spawnattr_setpgroup(&attr, 0);
  if (rc == 0) {
    rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  }
  pid_t pid = 0;
  if (rc == 0) {
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    rc = posix_spawnp(&pid, argv[0].c_str(), &actions, &attr, args.data(), environ);
  }
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return os_error(rc, "run " + argv[0]);
  own(pid, true);
  return Child{static_cast<int64_t>(pid), read_end.release()};
}

base::Result<size_t> PosixProcesses::read(Handle output, std::span<uint8_t> buf) {
  for (;;) {
    ssize_t n = ::read(output, buf.data(), buf.size());
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR) continue;
    return os_error(errno, "read from a child");
  }
}

void PosixProcesses::close(Handle output) { ::close(output); }

base::Result<int> PosixProcesses::try_wait(int64_t pid) {
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(static_cast<pid_t>(pid), &status, WNOHANG);
    if (r == 0) return base::error(base::Code::kUnavailable, "process %lld is running", static_cast<long long>(pid));
    if (r < 0) {
      if (errno == EINTR) continue;
      return os_error(errno, "waitpid");
    }
    if (!WIFEXITED(status) && !WIFSIGNALED(status)) {
      return base::error(base::Code::kUnavailable, "process %lld stopped, not ended", static_cast<long long>(pid));
    }
    own(pid, false);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
}

void PosixProcesses::own(int64_t pid, bool owned) {
  std::lock_guard<std::mutex> lock(mu_);
  if (owned) {
    owned_.insert(pid);
  } else {
    owned_.erase(pid);
  }
}

bool PosixProcesses::owns(int64_t pid) {
  std::lock_guard<std::mutex> lock(mu_);
  return owned_.count(pid) != 0;
}

base::Status PosixProcesses::become_subreaper() {
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) return os_error(errno, "prctl PR_SET_CHILD_SUBREAPER");
  return base::Status::ok();
}

void PosixProcesses::adopt(int64_t pid) { own(pid, true); }

size_t PosixProcesses::reap_orphans() {
  size_t reaped = 0;
  // Bounded: at most this many a call; more wait for the next.
  for (int i = 0; i < 64; ++i) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) break;
    if (owns(info.si_pid)) break;
    int status = 0;
    if (::waitpid(info.si_pid, &status, WNOHANG) == info.si_pid) ++reaped;
  }
  return reaped;
}

void PosixProcesses::kill(int64_t pid) { ::kill(-static_cast<pid_t>(pid), SIGKILL); }

// --- tasks --------------------------------------------------------------------------------------

namespace {

// PATH when the task's environment has none (the usual root PATH of Debian and Alpine).
constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
// /etc/passwd and /etc/group larger than this are refused: they are read whole, before each
// task that names a user, and real ones are a few KiB.
constexpr size_t kAccountFileBytesMax = 4 << 20;
// Supplementary groups a task gets at most (Linux's NGROUPS_MAX is 65536; nobody needs more).
constexpr size_t kGroupsMax = 256;

// The steps of the child, in order; the child reports the index of the one that failed.
enum Step : int32_t {
  kStepSetsid,
  kStepCgroup,
  kStepNetns,
  kStepChdir,
  kStepStdin,
  kStepStdout,
  kStepStderr,
  kStepSetgroups,
  kStepSetgid,
  kStepSetuid,
  kStepSignals,
  kStepCloseFds,
  kStepExec,
  kStepCount,
};
constexpr const char* kStepNames[kStepCount] = {
    "setsid",
    "cgroup",
    "network namespace",
    "chdir",
    "stdin",
    "stdout",
    "stderr",
    "setgroups",
    "setgid",
    "setuid",
    "signals",
    "close descriptors",
    "execve",
};

// What the child reports through the pipe: the failing step and its errno.
struct ChildReport {
  int32_t step = 0;
  int32_t err = 0;
};

base::Result<std::string> read_whole(const char* path, size_t bytes_max) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return os_error(errno, std::string("open ") + path);
  Fd owner{fd};
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return os_error(errno, std::string("read ") + path);
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > bytes_max) {
      return base::error(base::Code::kResourceExhausted, "%s: larger than %zu bytes", path,
                         bytes_max);
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// Splits `line` at ':' into at most `count` fields.
std::vector<std::string_view> fields_of(std::string_view line, size_t count) {
  std::vector<std::string_view> out;
  while (out.size() + 1 < count) {
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) break;
    out.push_back(line.substr(0, colon));
    line.remove_prefix(colon + 1);
  }
  out.push_back(line);
  return out;
}

// A decimal id (uid or gid), or false.
bool parse_id(std::string_view s, uint32_t* out) {
  uint32_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  // (uid_t)-1 means "unchanged" to setuid: never an id.
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v == UINT32_MAX) return false;
  *out = v;
  return true;
}

// Calls `fn(line)` for each line of `text`.
template <typename Fn>
void for_each_line(std::string_view text, Fn fn) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    fn(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

struct Identity {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
};

// `user` (a name or a numeric uid) from /etc/passwd, with its groups from /etc/group.
base::Result<Identity> look_up_user(const std::string& user) {
  AGENT_ASSIGN_OR_RETURN(std::string passwd, read_whole("/etc/passwd", kAccountFileBytesMax));
  uint32_t numeric = 0;
  const bool is_numeric = parse_id(user, &numeric);
  Identity id;
  std::string name;
  bool found = false;
  for_each_line(passwd, [&](std::string_view line) {
    if (found || line.empty() || line[0] == '#') return;
    std::vector<std::string_view> f = fields_of(line, 7);
    uint32_t uid = 0, gid = 0;
    if (f.size() < 4 || !parse_id(f[2], &uid) || !parse_id(f[3], &gid)) return;
    if (is_numeric ? uid != numeric : f[0] != user) return;
    found = true;
    name = std::string(f[0]);
    id.uid = uid;
    id.gid = gid;
  });
  if (!found) {
    if (!is_numeric)
      return base::error(base::Code::kNotFound, "user %s: not in /etc/passwd", user.c_str());
    id.uid = numeric;
    id.gid = numeric;
    id.groups.push_back(id.gid);
    return id;
  }
  id.groups.push_back(id.gid);
  // /etc/group may be absent in a minimal image: then the primary group is the only one.
  base::Result<std::string> group = read_whole("/etc/group", kAccountFileBytesMax);
  if (!group.is_ok() && group.status().code() != base::Code::kNotFound) return group.status();
  if (group.is_ok()) {
    for_each_line(*group, [&](std::string_view line) {
      if (line.empty() || line[0] == '#' || id.groups.size() >= kGroupsMax) return;
      std::vector<std::string_view> f = fields_of(line, 4);
      uint32_t gid = 0;
      if (f.size() < 4 || !parse_id(f[2], &gid)) return;
      std::string_view members = f[3];
      while (!members.empty()) {
        size_t comma = members.find(',');
        std::string_view m = members.substr(0, comma);
        if (m == name) {
          bool have = false;
          for (gid_t g : id.groups) have = have || g == gid;
          if (!have) id.groups.push_back(gid);
          break;
        }
        if (comma == std::string_view::npos) break;
        members.remove_prefix(comma + 1);
      }
    });
  }
  return id;
}

// `path` relative to the task's working directory `dir` (as the child will see it).
std::string in_dir(const std::string& dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || dir.empty()) return path;
  return dir + "/" + path;
}

// OK when `path` is an executable regular file; else why not (errno-style).
int check_executable(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return errno;
  if (!S_ISREG(st.st_mode)) return EACCES;
  if (::access(path.c_str(), X_OK) != 0) return errno;
  return 0;
}

// The path execve() gets for argv[0]: as given when it holds '/', else the first executable
// match in the PATH of `env` (execvp's rules: an empty entry is the working directory).
base::Result<std::string> resolve_program(const std::string& program,
                                          const std::vector<std::string>& env,
                                          const std::string& dir) {
  if (program.find('/') != std::string::npos) {
    const std::string path = in_dir(dir, program);
    if (int err = check_executable(path); err != 0) return os_error(err, "start " + program);
    return path;
  }
  std::string_view search = kDefaultPath;
  for (const std::string& e : env) {
    if (e.compare(0, 5, "PATH=") == 0) {
      search = std::string_view(e).substr(5);
      break;
    }
  }
  int denied = 0;
  for (;;) {
    size_t colon = search.find(':');
    std::string entry(search.substr(0, colon));
    if (entry.empty()) entry = ".";
    const std::string path = in_dir(dir, entry + "/" + program);
    const int err = check_executable(path);
    if (err == 0) return path;
    if (err == EACCES || err == EPERM) denied = err;
    if (colon == std::string_view::npos) break;
    search.remove_prefix(colon + 1);
  }
  if (denied != 0) return os_error(denied, "start " + program);
  return base::error(base::Code::kNotFound, "start %s: not found in PATH %.*s", program.c_str(),
                     static_cast<int>(search.size()), search.data());
}

long pidfd_open(pid_t pid) { return ::syscall(SYS_pidfd_open, pid, 0); }

// --- the child
// ------------------------------------------------------------------------------------ Everything
// below until the end of run_child() runs in the forked child: async-signal-safe system calls on
// data prepared by the parent, nothing else.

// The child's stack while it prepares and execs: run_child() uses a few hundred bytes; signal
// handlers never run there (every signal is blocked until the mask is emptied just before exec).
constexpr size_t kChildStackBytes = 64 << 10;

struct ChildPlan {
  const char* program = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const char* dir = nullptr;  // null: keep
  const char* stdout_path = nullptr;
  const char* stderr_path = nullptr;
  const char* const* cgroup_procs = nullptr;
  size_t cgroup_count = 0;
  const char* netns = nullptr;  // null: keep the agent's
  bool switch_user = false;
  uid_t uid = 0;
  gid_t gid = 0;
  const gid_t* groups = nullptr;
  size_t group_count = 0;
  int report_fd = -1;  // >= 3
};

[[noreturn]] void child_fail(int report_fd, Step step, int err) {
  ChildReport r{step, err};
  ssize_t ignored = ::write(report_fd, &r, sizeof r);
  (void)ignored;
  _exit(127);
}

// Opens `path` on descriptor `target` (0, 1 or 2); returns 0 or an errno.
int open_onto(const char* path, int flags, int target) {
  int fd = ::open(path, flags);
  if (fd < 0) return errno;
  if (fd != target) {
    if (::dup2(fd, target) < 0) return errno;
    ::close(fd);
  }
  return 0;
}

[[noreturn]] void run_child(const ChildPlan& p) {
  const int rfd = p.report_fd;
  if (::setsid() < 0) child_fail(rfd, kStepSetsid, errno);
  // The pid as decimal text, built without stdio.
  char pid_text[24];
  size_t len = 0;
  {
    char rev[24];
    size_t n = 0;
    for (unsigned long v = static_cast<unsigned long>(::getpid()); n == 0 || v != 0; v /= 10)
      rev[n++] = static_cast<char>('0' + v % 10);
    while (n > 0) pid_text[len++] = rev[--n];
    pid_text[len++] = '\n';
  }
  for (size_t i = 0; i < p.cgroup_count; ++i) {
    int fd = ::open(p.cgroup_procs[i], O_WRONLY | O_CLOEXEC);
    if (fd < 0) child_fail(rfd, kStepCgroup, errno);
    if (::write(fd, pid_text, len) != static_cast<ssize_t>(len))
      child_fail(rfd, kStepCgroup, errno != 0 ? errno : EIO);
    ::close(fd);
  }
  if (p.netns != nullptr) {
    int fd = ::open(p.netns, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::setns(fd, CLONE_NEWNET) < 0) child_fail(rfd, kStepNetns, errno);
    ::close(fd);
  }
  if (p.dir != nullptr && ::chdir(p.dir) < 0) child_fail(rfd, kStepChdir, errno);
  // Descriptors 0..2 are all open in the agent (the parent made sure), so each open() below
  // lands on 3 or above before dup2 puts it in place.
  if (int err = open_onto("/dev/null", O_RDONLY, 0); err != 0) child_fail(rfd, kStepStdin, err);
  if (int err = open_onto(p.stdout_path, O_RDWR, 1); err != 0) child_fail(rfd, kStepStdout, err);
  if (int err = open_onto(p.stderr_path, O_RDWR, 2); err != 0) child_fail(rfd, kStepStderr, err);
  if (p.switch_user) {
    if (::setgroups(p.group_count, p.groups) < 0) child_fail(rfd, kStepSetgroups, errno);
    if (::setgid(p.gid) < 0) child_fail(rfd, kStepSetgid, errno);
    if (::setuid(p.uid) < 0) child_fail(rfd, kStepSetuid, errno);
  }
  // Every disposition back to its default (SIGKILL and SIGSTOP, and the C library's internal
  // signals, refuse: harmless), then the empty mask (the parent blocked everything for fork).
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  if (::sigprocmask(SIG_SETMASK, &none, nullptr) < 0) child_fail(rfd, kStepSignals, errno);
  // Every descriptor but 0..2 and the report pipe (close-on-exec: execve closes it).
  if (rfd > 3 && ::syscall(SYS_close_range, 3u, static_cast<unsigned>(rfd - 1), 0u) < 0) {
    child_fail(rfd, kStepCloseFds, errno);
  }
  if (::syscall(SYS_close_range, static_cast<unsigned>(rfd + 1), ~0u, 0u) < 0)
    child_fail(rfd, kStepCloseFds, errno);
  ::execve(p.program, p.argv, p.envp);
  child_fail(rfd, kStepExec, errno);
}

// Makes sure descriptors 0, 1 and 2 are open in the agent (on /dev/null if not), so that no
// descriptor the child opens or inherits sits where its standard streams go.
base::Status ensure_standard_fds() {
  for (int fd = 0; fd < 3; ++fd) {
    if (::fcntl(fd, F_GETFD) >= 0) continue;
    int null_fd = ::open("/dev/null", O_RDWR);  // lowest free: `fd`
    if (null_fd < 0) return os_error(errno, "open /dev/null");
  }
  return base::Status::ok();
}

// The 22nd field of /proc/<pid>/stat (starttime); 0 when the process is gone, or (unless
// `zombie_ok`) has ended and waits to be reaped. start_task() takes a zombie's: a task that ends before the parent reads its
// stat is still the process it started.
uint64_t read_start_time(int64_t pid, bool zombie_ok = false) {
  if (pid <= 0) return 0;
  char path[64];
  snprintf(path, sizeof path, "/proc/%lld/stat", static_cast<long long>(pid));
  base::Result<std::string> stat = read_whole(path, 4096);
  if (!stat.is_ok()) return 0;
  // "pid (comm) S ppid ...": comm may hold spaces and ')', so fields count from the last ')'.
  const size_t close_paren = stat->rfind(')');
  if (close_paren == std::string::npos) return 0;
  std::string_view rest = std::string_view(*stat).substr(close_paren + 1);
  int field = 2;  // the ')' ends field 2
  uint64_t value = 0;
  size_t i = 0;
  while (i < rest.size() && field < 22) {
    while (i < rest.size() && rest[i] == ' ') ++i;
    ++field;
    const size_t start = i;
    while (i < rest.size() && rest[i] != ' ') ++i;
    std::string_view f = rest.substr(start, i - start);
    if (field == 3 && !zombie_ok && (f == "Z" || f == "X")) return 0;
    if (field == 22) {
      const auto [end, ec] = std::from_chars(f.data(), f.data() + f.size(), value);
      if (ec != std::errc() || end != f.data() + f.size()) return 0;
    }
  }
  return field == 22 ? value : 0;
}

}  // namespace

base::Result<Handle> PosixProcesses::open_output(const std::string& path) {
  if (path.empty()) return base::error(base::Code::kInvalidArgument, "open_output: empty path");
  if (::mkfifo(path.c_str(), 0600) != 0) {
    if (errno != EEXIST) return os_error(errno, "mkfifo " + path);
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return os_error(errno, "stat " + path);
    if (!S_ISFIFO(st.st_mode)) {
      return base::error(base::Code::kAlreadyExists, "open_output %s: exists and is not a FIFO",
                         path.c_str());
    }
  }
  // O_RDWR: the open does not wait for a writer, and the agent's own writer end keeps the pipe
  // (and what is in it) alive between tasks' writes and the agent's restarts.
  int fd = ::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return os_error(errno, "open " + path);
  // Where the OS refuses the size (an unprivileged agent over pipe-max-size), the default 64 KiB
  // buffer still works; the task only blocks sooner while the agent is away.
  (void)::fcntl(fd, F_SETPIPE_SZ, static_cast<int>(kOutputPipeBytes));
  return static_cast<Handle>(fd);
}

base::Result<TaskProcess> PosixProcesses::start_task(const TaskSpawn& spawn) {
  if (spawn.argv.empty() || spawn.argv[0].empty()) {
    return base::error(base::Code::kInvalidArgument, "start_task: no program to run");
  }
  const std::string& program_name = spawn.argv[0];
  AGENT_ASSIGN_OR_RETURN(std::string program, resolve_program(program_name, spawn.env, spawn.dir));
  Identity id;
  if (!spawn.user.empty()) {
    AGENT_ASSIGN_OR_RETURN(id, look_up_user(spawn.user));
  }
  AGENT_TRY(ensure_standard_fds());

  std::vector<char*> argv;
  argv.reserve(spawn.argv.size() + 1);
  for (const std::string& a : spawn.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  envp.reserve(spawn.env.size() + 1);
  for (const std::string& e : spawn.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  std::vector<const char*> procs;
  procs.reserve(spawn.cgroup_procs.size());
  for (const std::string& f : spawn.cgroup_procs) procs.push_back(f.c_str());

  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) return os_error(errno, "pipe2");
  Fd report_read{report[0]}, report_write{report[1]};

  ChildPlan plan;
  plan.program = program.c_str();
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.dir = spawn.dir.empty() ? nullptr : spawn.dir.c_str();
  plan.stdout_path = spawn.stdout_fifo.empty() ? "/dev/null" : spawn.stdout_fifo.c_str();
  plan.stderr_path = spawn.stderr_fifo.empty() ? "/dev/null" : spawn.stderr_fifo.c_str();
  plan.cgroup_procs = procs.data();
  plan.cgroup_count = procs.size();
  plan.netns = spawn.netns.empty() ? nullptr : spawn.netns.c_str();
  plan.switch_user = !spawn.user.empty();
  plan.uid = id.uid;
  plan.gid = id.gid;
  plan.groups = id.groups.data();
  plan.group_count = id.groups.size();
  plan.report_fd = report_write.fd;

  // All signals blocked across fork(): the child must not run an agent handler before it has
  // reset them. The parent's mask comes back right after.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  // clone(CLONE_VM | CLONE_VFORK), as glibc's posix_spawn: the child runs run_child() on its own
  // stack in the agent's memory, and the agent's thread waits until it has exec'd or exited. No
  // page tables are copied (fork() of the agent cost several milliseconds a start on a
  // hypervisor). The child writes nothing of the parent's but errno, and the signal table, file
  // table and working directory are its own (no CLONE_SIGHAND, CLONE_FILES or CLONE_FS).
  std::vector<char> stack(kChildStackBytes);
  const pid_t pid = ::clone(
      [](void* arg) -> int { run_child(*static_cast<const ChildPlan*>(arg)); }, stack.data() + stack.size(),
      CLONE_VM | CLONE_VFORK | SIGCHLD, &plan);
  const int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) return os_error(fork_errno, "clone for " + program_name);
  ::close(report_write.release());

  // End of file: execve succeeded (the pipe was close-on-exec). A report: a step failed.
  ChildReport r;
  size_t got = 0;
  while (got < sizeof r) {
    ssize_t n = ::read(report_read.fd, reinterpret_cast<char*>(&r) + got, sizeof r - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  if (got > 0) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (got != sizeof r || r.step < 0 || r.step >= kStepCount || r.err == 0) {
      return base::error(base::Code::kInternal, "start %s: garbled report from the child",
                         program_name.c_str());
    }
    return os_error(r.err, "start " + program_name + ": " + kStepNames[r.step]);
  }

  TaskProcess task;
  own(pid, true);
  task.pid = pid;
  task.start_time = read_start_time(pid, /*zombie_ok=*/true);
  const long pidfd = pidfd_open(pid);
  if (pidfd < 0) {
    const int err = errno;
    ::kill(-pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    own(pid, false);
    return os_error(err, "pidfd_open for " + program_name);
  }
  task.exit = static_cast<Handle>(pidfd);
  return task;
}

base::Result<TaskProcess> PosixProcesses::attach(int64_t pid, uint64_t start_time) {
  if (pid <= 1 || start_time == 0) {
    return base::error(base::Code::kNotFound, "attach %lld: no such task",
                       static_cast<long long>(pid));
  }
  // The pidfd first, the start time after: if the pid was reused in between, the start time read
  // is the new process's, does not match, and the handle is dropped.
  const long pidfd = pidfd_open(static_cast<pid_t>(pid));
  if (pidfd < 0) return os_error(errno, "attach " + std::to_string(pid));
  const uint64_t now = read_start_time(pid);
  if (now == 0 || now != start_time) {
    ::close(static_cast<int>(pidfd));
    return base::error(base::Code::kNotFound, "attach %lld: %s", static_cast<long long>(pid),
                       now == 0 ? "process has ended" : "pid now belongs to another process");
  }
  return TaskProcess{pid, start_time, static_cast<Handle>(pidfd)};
}

uint64_t PosixProcesses::start_time(int64_t pid) { return read_start_time(pid); }

void PosixProcesses::close_exit(Handle exit) {
  if (exit != kInvalidHandle) ::close(exit);
}

int PosixProcesses::signal_number(std::string_view name) {
  struct Named {
    const char* name;
    int number;
  };
  static constexpr Named kSignals[] = {
      {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"KILL", SIGKILL},
      {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"TERM", SIGTERM}, {"ALRM", SIGALRM},
      {"CONT", SIGCONT}, {"STOP", SIGSTOP}, {"TSTP", SIGTSTP}, {"WINCH", SIGWINCH},
      {"PIPE", SIGPIPE},
  };
  char upper[16];
  if (name.size() >= sizeof upper) return 0;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    upper[i] = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  std::string_view n(upper, name.size());
  if (n.size() > 3 && n.substr(0, 3) == "SIG") n.remove_prefix(3);
  for (const Named& s : kSignals) {
    if (n == s.name) return s.number;
  }
  return 0;
}

base::Status PosixProcesses::signal(int64_t pid, std::string_view signal) {
  const int sig = signal_number(signal);
  if (sig == 0) {
    return base::error(base::Code::kInvalidArgument, "unknown signal %.*s",
                       static_cast<int>(signal.size()), signal.data());
  }
  if (pid <= 1)
    return base::error(base::Code::kInvalidArgument, "signal: pid %lld",
                       static_cast<long long>(pid));
  // The process group first; a process that leads none (a container's init, which its runtime
  // started) gets the signal itself.
  if (::kill(-static_cast<pid_t>(pid), sig) != 0 && (errno != ESRCH || ::kill(static_cast<pid_t>(pid), sig) != 0)) {
    return os_error(errno, "signal " + std::string(signal) + " to " + std::to_string(pid));
  }
  return base::Status::ok();
}

}  // namespace hal::posix
