// The transmit-limited broadcast queue: news waiting to be piggybacked on outgoing packets
// (SWIM section 4.1, "infection-style dissemination"; memberlist's TransmitLimitedQueue).
//
// Each entry is one encoded message with a key and a transmit count. take() fills a packet
// budget with entries in this order:
//   1. urgent news first -- leave and dead notices (a departure must outrun the suspicions it
//      would otherwise cause);
//   2. then the least-transmitted entries (new news spreads before old news is repeated);
//   3. then the newest.
// An entry is dropped once it was transmitted `limit` times, where limit =
// retransmit_mult * ceil(log10(n + 1)) for the current fleet size n (SWIM's lambda log n).
// Newer news about a member invalidates older: queueing an entry with the key of a queued one
// replaces it (the key is the member's name for membership news, a unique id for user events).
// Bounded: past `entries_max` the entry with the most transmits (the oldest among equals) goes.
//
// Threading: owned by the core, one thread. Not here: encoding (wire/), choosing recipients.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace gossip {

// retransmit_mult * ceil(log10(n + 1)), at least 1.
uint32_t retransmit_limit(uint32_t retransmit_mult, size_t member_count);

class BroadcastQueue {
 public:
  explicit BroadcastQueue(size_t entries_max) : entries_max_(entries_max == 0 ? 1 : entries_max) {}

  // Queues `message` (one encoded compound-packet entry: type, length, body) under `key`,
  // replacing any entry with the same key. `urgent` puts it ahead of other news.
  void queue(std::string key, std::string message, bool urgent);

  // Appends to `out` entries whose sizes fit in `bytes_budget` in total, each costing its size
  // plus `per_message_overhead_bytes`, at most `count_max` of them; counts one transmit for each
  // and drops those that reached `limit`. Returns the bytes used.
  size_t take(size_t bytes_budget, size_t per_message_overhead_bytes, size_t count_max, uint32_t limit,
              std::vector<std::string>* out);

  // Whether an entry with `key` is queued (e.g. "has our leave been sent enough times yet").
  bool contains(const std::string& key) const { return by_key_.count(key) != 0; }
  size_t size() const { return by_key_.size(); }
  bool empty() const { return by_key_.empty(); }
  void clear();
  uint64_t dropped_full() const { return dropped_full_; }

 private:
  // Order of take(): urgent first, fewest transmits, newest (highest id) first.
  using Order = std::tuple<int, uint32_t, int64_t>;  // (urgent ? 0 : 1, transmits, -id)
  struct Entry {
    std::string key;
    std::string message;
  };
  void erase_key(const std::string& key);

  size_t entries_max_;
  int64_t next_id_ = 1;
  std::map<std::string, Order> by_key_;
  std::map<Order, Entry> by_order_;
  uint64_t dropped_full_ = 0;
};

}  // namespace gossip
