// hal/poller.h -- readiness notification for handles: the OS half of the event loop.
//
// The runtime (agent/runtime/loop.h) owns one Poller and calls wait() with the time until its
// earliest timer. POSIX uses epoll (level-triggered); the simulator reports the readiness its
// network computed; Windows and lwIP ports use WSAPoll and lwip_select.
//
// Contract:
//   add/modify/remove register interest in a handle from hal::Net or hal::Signals. A handle is
//   registered at most once; remove() before the handle is closed.
//   wait(timeout, out) blocks until at least one registered handle is ready, wake() is called,
//   or `timeout` passes (Duration::zero(): do not block; Duration::infinite(): no timeout).
//   It fills `out` with up to out.size() events and returns how many. Level-triggered: a handle
//   that is still readable is reported again on the next wait.
//   wake() is the only thread-safe method: worker threads call it to make wait() return.
#pragma once

#include <cstdint>
#include <span>

#include "agent/base/status.h"
#include "agent/base/time.h"
#include "hal/net.h"

namespace hal {

// Interest and readiness bits.
enum : uint8_t {
  kReadable = 1 << 0,
  kWritable = 1 << 1,
  kHangup = 1 << 2,  // readiness only: the peer closed or the connection failed
  kError = 1 << 3,   // readiness only: an error is pending on the handle
};

struct PollEvent {
  Handle handle = kInvalidHandle;
  uint8_t ready = 0;
};

class Poller {
 public:
  virtual ~Poller() = default;
  [[nodiscard]] virtual base::Status add(Handle h, uint8_t interest) = 0;
  [[nodiscard]] virtual base::Status modify(Handle h, uint8_t interest) = 0;
  virtual void remove(Handle h) = 0;
  virtual base::Result<size_t> wait(base::Duration timeout, std::span<PollEvent> out) = 0;
  virtual void wake() = 0;
};

}  // namespace hal
