// User events: a Lamport clock and de-duplication, Serf's model (serf.go, lamport.go).
//
// Every member keeps a Lamport clock (Lamport 1978): sending an event takes the clock's next
// time; receiving one with time t makes the clock at least t + 1. Events travel by gossip, so one
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

class LamportClock {
 public:
  uint64_t time() const { return t_; }
  // The time for a new local event (and the clock moves past it).
  uint64_t increment() { return ++t_; }
  // Saw time `t` from elsewhere: the clock becomes at least t + 1 (Serf's Witness).
  void witness(uint64_t t) {
    if (t >= t_) t_ = t + 1;
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
