// hal/posix/posix_signals.h -- hal::Signals over signalfd(2).
//
// open() blocks the requested signals in the calling thread's mask (call it on the main thread
// before any other thread starts, so every thread inherits the block and the kernel queues the
// signals for the signalfd instead of running their default action) and returns a non-blocking,
// close-on-exec signalfd. next() reads one signalfd_siginfo and maps it:
//   SIGINT -> kInterrupt, SIGTERM -> kTerminate, SIGHUP -> kHangup, SIGCHLD -> kChild,
//   SIGUSR1 -> kUser1.
// Standard signals do not queue: two SIGCHLDs before a read arrive as one, so a kChild means
// "reap every exited child", not "one child exited".
//
// close() closes the signalfd but leaves the signals blocked: unblocking would let a signal that
// arrived meanwhile run its default action (for SIGTERM, killing the process).
// Threading: loop thread only. Not here: sending signals, process groups (hal process contract).
#pragma once

#include "hal/signals.h"

namespace hal::posix {

class PosixSignals final : public hal::Signals {
 public:
  base::Result<Handle> open(std::span<const Signal> signals) override;
  base::Result<Signal> next(Handle h) override;
  void close(Handle h) override;
};

// The POSIX signal number for `signal` (SIGINT, ...). Exposed for tests and the process HAL.
int signal_number(Signal signal);

}  // namespace hal::posix
