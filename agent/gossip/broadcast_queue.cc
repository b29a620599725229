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
  by_order_.erase(it->second);
  by_key_.erase(it);
}

void BroadcastQueue::queue(std::string key, std::string message, bool urgent) {
  erase_key(key);
  while (by_key_.size() >= entries_max_) {
    // Evict the entry that has had the most exposure: the last in take() order.
    auto last = std::prev(by_order_.end());
    by_key_.erase(last->second.key);
    by_order_.erase(last);
    ++dropped_full_;
  }
  const Order order{urgent ? 0 : 1, 0u, -next_id_++};
  by_key_.emplace(key, order);
  by_order_.emplace(order, Entry{std::move(key), std::move(message)});
}

size_t BroadcastQueue::take(size_t bytes_budget, size_t per_message_overhead_bytes, size_t count_max, uint32_t limit,
                            std::vector<std::string>* out) {
  // Messages are tens of bytes: once the budget is this small, or this many entries in a row
  // did not fit, stop walking -- a queue of thousands must not cost thousands per packet.
  constexpr size_t kBudgetFloorBytes = 12;
  constexpr size_t kMisfitsMax = 16;
  size_t used = 0;
  size_t misfits = 0;
  std::vector<std::map<Order, Entry>::iterator> taken;
  for (auto it = by_order_.begin(); it != by_order_.end() && taken.size() < count_max; ++it) {
    if (bytes_budget - used < kBudgetFloorBytes || misfits >= kMisfitsMax) break;
    const size_t cost = it->second.message.size() + per_message_overhead_bytes;
    if (used + cost > bytes_budget) {
      ++misfits;
      continue;  // a smaller one further on may still fit
    }
    misfits = 0;
    used += cost;
    out->push_back(it->second.message);
    taken.push_back(it);
  }
  // Count the transmits (re-keying the order) after the walk, not during it.
  for (auto it : taken) {
    auto node = by_order_.extract(it);
    auto& [urgent, transmits, id] = node.key();
    ++transmits;
    if (transmits >= limit) {
      by_key_.erase(node.mapped().key);
      continue;
    }
    (void)urgent;
    (void)id;
    by_key_[node.mapped().key] = node.key();
    by_order_.insert(std::move(node));
  }
  return used;
}

void BroadcastQueue::clear() {
  by_key_.clear();
  by_order_.clear();
}

}  // namespace gossip
