// Lamport-timed user event de-duplication (event_buffer.h).
#include "agent/gossip/event_buffer.h"

#include "agent/base/assert.h"

namespace gossip {

EventBuffer::EventBuffer(uint32_t ltimes, uint32_t per_ltime_max)
    : ltimes_(ltimes == 0 ? 1 : ltimes), per_ltime_max_(per_ltime_max == 0 ? 1 : per_ltime_max), slots_(ltimes_) {}

EventVerdict EventBuffer::record(uint64_t ltime, std::string_view name, std::string_view payload, uint64_t clock) {
  // Too old to check against the ring: Serf drops these too (handleUserEvent).
  if (clock > ltimes_ && ltime < clock - ltimes_) return EventVerdict::kStale;
  Slot& s = slots_[ltime % ltimes_];
  // The slot already holds a newer time: this one is older than the ring can remember.
  if (s.ltime != UINT64_MAX && s.ltime > ltime) return EventVerdict::kStale;
  if (s.ltime != ltime) {
    s.ltime = ltime;
    s.events.clear();
  }
  for (const auto& [n, p] : s.events) {
    if (n == name && p == payload) return EventVerdict::kDuplicate;
  }
  if (s.events.size() >= per_ltime_max_) return EventVerdict::kSlotFull;
  s.events.emplace_back(std::string(name), std::string(payload));
  return EventVerdict::kNew;
}

}  // namespace gossip
