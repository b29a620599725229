#include "hal/posix/posix_poller.h"

#include <errno.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <climits>
#include <cstdint>
#include <cstring>

#include "hal/posix/os_error.h"

namespace hal::posix {
namespace {

uint32_t to_epoll(uint8_t interest) {
  uint32_t ev = 0;
  if (interest & kReadable) ev |= EPOLLIN;
  if (interest & kWritable) ev |= EPOLLOUT;
  return ev;
}

uint8_t from_epoll(uint32_t ev) {
  uint8_t ready = 0;
  if (ev & (EPOLLIN | EPOLLPRI)) ready |= kReadable;
  if (ev & EPOLLOUT) ready |= kWritable;
  if (ev & EPOLLHUP) ready |= kHangup;
  if (ev & EPOLLERR) ready |= kError;
  return ready;
}

// epoll_wait's timeout: -1 for infinite, else milliseconds rounded up and capped at INT_MAX.
int to_timeout_ms(base::Duration timeout) {
  if (timeout.is_infinite()) return -1;
  if (timeout <= base::Duration::zero()) return 0;
  const int64_t ms = (timeout.ns() + 999999) / 1000000;
  return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

void assert_os(bool ok, const char* what) {
  if (ok) return;
  base::Status s = os_error(errno, what);
  AGENT_ASSERT_MSG(false, s.message().c_str());
}

}  // namespace

PosixPoller::PosixPoller() {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  assert_os(epoll_fd_ >= 0, "epoll_create1");
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  assert_os(wake_fd_ >= 0, "eventfd");
  epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd_;
  assert_os(epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) == 0, "epoll_ctl add eventfd");
}

PosixPoller::~PosixPoller() {
  ::close(wake_fd_);
  ::close(epoll_fd_);
}

base::Status PosixPoller::add(Handle h, uint8_t interest) {
  AGENT_ASSERT(h >= 0 && h != wake_fd_);
  epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = to_epoll(interest);
  ev.data.fd = h;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, h, &ev) != 0) return os_error(errno, "epoll_ctl add");
  return base::Status::ok();
}

base::Status PosixPoller::modify(Handle h, uint8_t interest) {
  AGENT_ASSERT(h >= 0 && h != wake_fd_);
  epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = to_epoll(interest);
  ev.data.fd = h;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, h, &ev) != 0) return os_error(errno, "epoll_ctl modify");
  return base::Status::ok();
}

void PosixPoller::remove(Handle h) {
  AGENT_ASSERT(h >= 0 && h != wake_fd_);
  // ENOENT/EBADF mean the handle was never added or was closed first: both break the contract.
  assert_os(epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, h, nullptr) == 0, "epoll_ctl remove");
}

base::Result<size_t> PosixPoller::wait(base::Duration timeout, std::span<PollEvent> out) {
  AGENT_ASSERT(!out.empty());
  // One spare slot so that the wake eventfd never crowds out a real event.
  if (events_.size() != out.size() + 1) events_.resize(out.size() + 1);
  const int n = epoll_wait(epoll_fd_, events_.data(), static_cast<int>(events_.size()),
                           to_timeout_ms(timeout));
  if (n < 0) {
    if (errno == EINTR) return size_t{0};
    return os_error(errno, "epoll_wait");
  }
  size_t count = 0;
  for (int i = 0; i < n; ++i) {
    const epoll_event& ev = events_[static_cast<size_t>(i)];
    if (ev.data.fd == wake_fd_) {
      uint64_t value;
      // Drains every wake() so far; EAGAIN (another drain won) is fine.
      ssize_t r = ::read(wake_fd_, &value, sizeof value);
      (void)r;
      continue;
    }
    if (count == out.size()) break;  // level-triggered: the rest is reported next time
    out[count].handle = ev.data.fd;
    out[count].ready = from_epoll(ev.events);
    ++count;
  }
  return count;
}

void PosixPoller::wake() {
  const uint64_t one = 1;
  // EAGAIN means the counter is saturated, i.e. a wake is already pending: nothing to add.
  ssize_t r = ::write(wake_fd_, &one, sizeof one);
  (void)r;
}

}  // namespace hal::posix
