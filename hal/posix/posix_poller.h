// hal/posix/posix_poller.h -- hal::Poller over epoll (level-triggered) with an eventfd for wake().
//
// Interest kReadable -> EPOLLIN, kWritable -> EPOLLOUT; readiness maps back the same way, with
// EPOLLHUP -> kHangup and EPOLLERR -> kError (epoll reports those two even with no interest, so a
// failed connection always wakes its owner). The wake eventfd is registered internally, drained
// inside wait() and never reported as an event: a wake() makes wait() return, possibly with zero
// events. Several wake() calls before a wait() coalesce into one early return.
//
// Timeouts are rounded up to whole milliseconds (epoll_wait's unit): rounding down would make a
// loop whose next timer is 0.4 ms away spin without sleeping until it is due. EINTR from
// epoll_wait returns zero events.
//
// Threading: wake() from any thread; everything else from the loop thread (hal/poller.h).
// Ownership: owns the epoll and eventfd descriptors; borrows the handles it watches.
// Not here: edge-triggered mode, one-shot registrations.
#pragma once

#include <sys/epoll.h>

#include <vector>

#include "hal/poller.h"

namespace hal::posix {

class PosixPoller final : public hal::Poller {
 public:
  // Creating epoll/eventfd descriptors fails only when the process is out of descriptors or
  // memory at start-up; that asserts (STYLE.md: log one clear line and exit).
  PosixPoller();
  ~PosixPoller() override;
  PosixPoller(const PosixPoller&) = delete;
  PosixPoller& operator=(const PosixPoller&) = delete;

  [[nodiscard]] base::Status add(Handle h, uint8_t interest) override;
  [[nodiscard]] base::Status modify(Handle h, uint8_t interest) override;
  void remove(Handle h) override;
  base::Result<size_t> wait(base::Duration timeout, std::span<PollEvent> out) override;
  void wake() override;

 private:
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::vector<epoll_event> events_;  // scratch for epoll_wait, sized to the caller's span
};

}  // namespace hal::posix
