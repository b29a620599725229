// hal/signals.h -- process signals delivered as events on a pollable handle.
//
// Contract: open() blocks the given signals' default actions for the process and returns a
// handle that becomes readable when one arrives (signalfd on Linux, a self-pipe elsewhere,
// console control events on Windows, nothing in the simulator until a test raises one).
// next() returns the next pending signal, kUnavailable when none. Call from the loop thread;
// call open() once, before any thread is started, so the mask is inherited.
#pragma once

#include <cstdint>
#include <span>

#include "agent/base/status.h"
#include "hal/net.h"

namespace hal {

enum class Signal : uint8_t {
  kInterrupt,  // SIGINT, Ctrl-C
  kTerminate,  // SIGTERM, a service stop
  kHangup,     // SIGHUP: reload configuration
  kChild,      // SIGCHLD: a child process changed state
  kUser1,      // SIGUSR1: dump state to the log
};

class Signals {
 public:
  virtual ~Signals() = default;
  virtual base::Result<Handle> open(std::span<const Signal> signals) = 0;
  virtual base::Result<Signal> next(Handle h) = 0;
  virtual void close(Handle h) = 0;
};

}  // namespace hal
