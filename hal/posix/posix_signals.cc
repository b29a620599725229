#include "hal/posix/posix_signals.h"

#include <errno.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "hal/posix/os_error.h"

namespace hal::posix {

int signal_number(Signal signal) {
  switch (signal) {
    case Signal::kInterrupt:
      return SIGINT;
    case Signal::kTerminate:
      return SIGTERM;
    case Signal::kHangup:
      return SIGHUP;
    case Signal::kChild:
      return SIGCHLD;
    case Signal::kUser1:
      return SIGUSR1;
  }
  AGENT_UNREACHABLE();
}

base::Result<Handle> PosixSignals::open(std::span<const Signal> signals) {
  if (signals.empty())
    return base::error(base::Code::kInvalidArgument, "signals open: no signals given");
  sigset_t mask;
  sigemptyset(&mask);
  for (Signal s : signals) sigaddset(&mask, signal_number(s));
  const int rc = pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  if (rc != 0) return os_error(rc, "pthread_sigmask");
  const int fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) return os_error(errno, "signalfd");
  return fd;
}

base::Result<Signal> PosixSignals::next(Handle h) {
  AGENT_ASSERT(h >= 0);
  for (;;) {
    signalfd_siginfo info;
    const ssize_t n = ::read(h, &info, sizeof info);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return base::error(base::Code::kUnavailable, "no signal pending");
      return os_error(errno, "read signalfd");
    }
    AGENT_ASSERT_MSG(n == sizeof info, "short read from a signalfd");
    switch (static_cast<int>(info.ssi_signo)) {
      case SIGINT:
        return Signal::kInterrupt;
      case SIGTERM:
        return Signal::kTerminate;
      case SIGHUP:
        return Signal::kHangup;
      case SIGCHLD:
        return Signal::kChild;
      case SIGUSR1:
        return Signal::kUser1;
      default:
        // The mask holds only signals mapped above; anything else is the kernel breaking faith.
        return base::error(base::Code::kInternal, "signalfd delivered unexpected signal %u",
                           info.ssi_signo);
    }
  }
}

void PosixSignals::close(Handle h) {
  AGENT_ASSERT(h >= 0);
  ::close(h);
}

}  // namespace hal::posix
