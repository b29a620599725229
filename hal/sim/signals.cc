#include "hal/sim/signals.h"

#include <algorithm>

namespace sim {

base::Result<hal::Handle> SimSignals::open(std::span<const hal::Signal> signals) {
  if (signals.empty()) return base::error(base::Code::kInvalidArgument, "signals open: empty set");
  hal::Handle h = space_.allocate();
  handles_.emplace(h, Entry{std::vector<hal::Signal>(signals.begin(), signals.end()), {}});
  space_.touch();
  return h;
}

base::Result<hal::Signal> SimSignals::next(hal::Handle h) {
  auto it = handles_.find(h);
  if (it == handles_.end()) return base::error(base::Code::kInvalidArgument, "signals next: handle %d not open", h);
  if (it->second.pending.empty()) return base::error(base::Code::kUnavailable, "no signal pending");
  hal::Signal s = it->second.pending.front();
  it->second.pending.pop_front();
  space_.touch();
  return s;
}

void SimSignals::close(hal::Handle h) {
  auto it = handles_.find(h);
  AGENT_ASSERT_MSG(it != handles_.end(), "SimSignals::close of a handle that is not open");
  handles_.erase(it);
  space_.touch();
}

size_t SimSignals::raise(hal::Signal signal) {
  size_t taken = 0;
  for (auto& [h, e] : handles_) {
    if (std::find(e.set.begin(), e.set.end(), signal) == e.set.end()) continue;
    ++taken;
    // Like a real pending-signal set, a signal already pending is not queued twice.
    if (e.pending.size() >= kPendingMax ||
        std::find(e.pending.begin(), e.pending.end(), signal) != e.pending.end()) {
      continue;
    }
    e.pending.push_back(signal);
  }
  space_.touch();
  return taken;
}

uint8_t SimSignals::readiness(hal::Handle h) const {
  auto it = handles_.find(h);
  if (it == handles_.end()) return 0;
  return it->second.pending.empty() ? 0 : hal::kReadable;
}

}  // namespace sim
