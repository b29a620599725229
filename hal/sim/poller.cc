#include "hal/sim/poller.h"

namespace sim {

base::Status SimPoller::add(hal::Handle h, uint8_t interest) {
  bool owned = false;
  for (auto* s : sources_) owned = owned || s->owns(h);
  if (!owned) return base::error(base::Code::kInvalidArgument, "poller add: handle %d is not open", h);
  if (interest_.count(h)) return base::error(base::Code::kAlreadyExists, "poller add: handle %d already registered", h);
  interest_.emplace(h, interest);
  space_.touch();
  return base::Status::ok();
}

base::Status SimPoller::modify(hal::Handle h, uint8_t interest) {
  auto it = interest_.find(h);
  if (it == interest_.end()) return base::error(base::Code::kNotFound, "poller modify: handle %d not registered", h);
  it->second = interest;
  space_.touch();
  return base::Status::ok();
}

void SimPoller::remove(hal::Handle h) {
  interest_.erase(h);
  space_.touch();
}

uint8_t SimPoller::ready_bits(hal::Handle h, uint8_t interest) const {
  for (auto* s : sources_) {
    if (s->owns(h)) {
      return s->readiness(h) & (interest | hal::kHangup | hal::kError);
    }
  }
  // Registered but closed underneath the poller (a bug the owner asserts on elsewhere): report
  // nothing rather than an event for a dead handle.
  return 0;
}

base::Result<size_t> SimPoller::wait(base::Duration, std::span<hal::PollEvent> out) {
  woken_.store(false, std::memory_order_relaxed);
  size_t n = 0;
  if (out.empty() || interest_.empty()) return n;
  // Two passes: handles after the cursor, then from the start up to it.
  auto scan = [&](std::map<hal::Handle, uint8_t>::const_iterator from,
                  std::map<hal::Handle, uint8_t>::const_iterator to) {
    for (auto it = from; it != to && n < out.size(); ++it) {
      uint8_t r = ready_bits(it->first, it->second);
      if (r) out[n++] = hal::PollEvent{it->first, r};
    }
  };
  auto mid = interest_.upper_bound(cursor_);
  scan(mid, interest_.end());
  scan(interest_.begin(), mid);
  if (n == out.size()) cursor_ = out[n - 1].handle;
  return n;
}

}  // namespace sim
