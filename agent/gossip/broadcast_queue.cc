// The transmit-limited broadcast queue (broadcast_queue.h).
#include "agent/gossip/broadcast_queue.h"

#include <iterator>

#include "agent/base/assert.h"

namespace gossip {

uint32_t retransmit_limit(uint32_t retransmit_mult, size_t member_count) {
  // ceil(log10(n + 1)) on integers: the smallest s with 10^s >= n + 1; at least 1.
  uint32_t scale = 0;
  for (uint64_t v = 1; v < static_cast<uint64_t>(member_count) + 1; v *= 10) ++scale;
  if (scale == 0) scale = 1;
  return retransmit_mult * scale;
}

void BroadcastQueue::erase_key(const std::string& key) {
  auto it = by_key_.find(key);
  if (it == by_key_.end()) return;
  by_order_.erase(it->second.order);
  by_key_.erase(it);
}

void BroadcastQueue::queue(std::string key, std::string message, bool urgent) {
  erase_key(key);
  while (by_key_.size() >= entries_max_) {
    // Evict the entry that has had the most exposure: the last in take() order.
    auto last = std::prev(by_order_.end());
    by_key_.erase(last->second);
    by_order_.erase(last);
    ++dropped_full_;
  }
  const Order order{urgent ? 0 : 1, 0u, -next_id_++};
  by_order_.emplace(order, key);
  by_key_.emplace(std::move(key), Entry{std::move(message), order});
}

size_t BroadcastQueue::take(size_t bytes_budget, size_t per_message_overhead_bytes, size_t count_max, uint32_t limit,
                            std::vector<std::string>* out) {
  size_t used = 0;
  size_t taken = 0;
  std::vector<std::string> keys;
  for (auto it = by_order_.begin(); it != by_order_.end() && taken < count_max; ++it) {
    const Entry& e = by_key_.at(it->second);
    const size_t cost = e.message.size() + per_message_overhead_bytes;
    if (used + cost > bytes_budget) continue;  // a smaller one further on may still fit
    used += cost;
    ++taken;
    out->push_back(e.message);
    keys.push_back(it->second);
  }
  // Count the transmits (re-keying the order) after the walk, not during it.
  for (const auto& key : keys) {
    auto it = by_key_.find(key);
    AGENT_ASSERT(it != by_key_.end());
    by_order_.erase(it->second.order);
    auto& [urgent, transmits, id] = it->second.order;
    ++transmits;
    if (transmits >= limit) {
      by_key_.erase(it);
      continue;
    }
    (void)urgent;
    (void)id;
    by_order_.emplace(it->second.order, key);
  }
  return used;
}

void BroadcastQueue::clear() {
  by_key_.clear();
  by_order_.clear();
}

}  // namespace gossip
