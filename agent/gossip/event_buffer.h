// User events: a Lamport clock and de-duplication, Serf's model (serf.go, lamport.go).
//
// Every member keeps a Lamport clock (Lamport 1978) that holds the latest time it has used or
// seen: sending an event takes the next time; receiving one with time t, or a push-pull from a
// member whose clock is t, makes the clock at least t. Events travel by gossip, so one
// event arrives many times; a member remembers the events it has seen in a ring of
// `ltimes` slots indexed by Lamport time (slot = t mod ltimes), each holding up to
// `per_ltime_max` (name, payload) pairs for that time. An event older than the ring (t + ltimes
// <= clock) can no longer be checked and is dropped as stale; an event already in its slot is a
// duplicate. Both are counted.
//
// Threading: owned by the core. Not here: dissemination (broadcast_queue.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gossip {

// Departs from Serf's LamportClock on purpose. Serf's clock holds the next time to use (an
// event takes Time(), then Increment()), so its Witness(t) makes it t + 1, and its push-pull
// witnesses the peer's clock minus one. Ours holds the latest time used (increment() returns the
// new time) or seen, so witness(t) makes it t. Serf's t + 1 here made every push-pull advance both
// clocks without any event, each member by its own count of exchanges; a join's floor is the
// answering member's clock + 1, so an event fired right after the join by a member whose clock had
// advanced less fell below the floor and never reached the joiner.
class LamportClock {
 public:
  // The latest time used or seen: every event this member sent or saw has a time <= time().
  uint64_t time() const { return t_; }
  // The time for a new local event: after everything seen, so causally later events sort later.
  uint64_t increment() { return ++t_; }
  // Saw time `t` from elsewhere (an event's, or a peer's time()): the clock becomes at least t.
  void witness(uint64_t t) {
    if (t > t_) t_ = t;
  }

 private:
  uint64_t t_ = 0;
};

enum class EventVerdict : uint8_t { kNew, kDuplicate, kStale, kSlotFull };

class EventBuffer {
 public:
  EventBuffer(uint32_t ltimes, uint32_t per_ltime_max);

  // Checks (ltime, name, payload) against the buffer given the current `clock` and records it
  // if new.
  EventVerdict record(uint64_t ltime, std::string_view name, std::string_view payload, uint64_t clock);

 private:
  struct Slot {
    uint64_t ltime = UINT64_MAX;  // no events yet
    std::vector<std::pair<std::string, std::string>> events;
  };
  uint32_t ltimes_;
  uint32_t per_ltime_max_;
  std::vector<Slot> slots_;
};

}  // namespace gossip
