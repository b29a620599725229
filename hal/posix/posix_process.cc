// See posix_process.h.
#include "hal/posix/posix_process.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

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
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return base::error(base::Code::kUnavailable, "process %lld stopped, not ended", static_cast<long long>(pid));
  }
}

void PosixProcesses::kill(int64_t pid) { ::kill(-static_cast<pid_t>(pid), SIGKILL); }

}  // namespace hal::posix
