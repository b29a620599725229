// Sliding anti-replay windows per sender (see replay.h). The bitmap is RFC 6479's ring of words:
// advancing the top clears only the words it passes instead of shifting the whole bitmap.
#include "agent/gossip/crypto/replay.h"

#include <algorithm>

#include "agent/base/assert.h"

namespace gossip::crypto {

ReplayTable::ReplayTable(size_t senders_max, size_t retired_max)
    : senders_max_(senders_max), retired_max_(retired_max) {
  AGENT_ASSERT(senders_max_ >= 1 && senders_max_ <= UINT32_MAX);
}

bool ReplayTable::window_accept(Window& w, uint64_t counter) {
  if (counter == 0) return false;
  if (counter > w.top) {
    // Clear the words between the old top's word and the new one (at most all of them).
    uint64_t words_ahead = (counter / 64) - (w.top / 64);
    uint64_t clear = std::min<uint64_t>(words_ahead, kWords);
    for (uint64_t i = 1; i <= clear; ++i) w.bitmap[(w.top / 64 + i) % kWords] = 0;
    w.top = counter;
  } else if (w.top - counter >= kWindowCounters) {
    return false;  // below the window: cannot tell whether it was seen
  }
  uint64_t& word = w.bitmap[(counter / 64) % kWords];
  uint64_t bit = uint64_t{1} << (counter % 64);
  if (word & bit) return false;
  word |= bit;
  return true;
}

size_t ReplayTable::new_window(uint64_t sender_id) {
  size_t slot;
  if (windows_.size() < senders_max_) {
    if (windows_.size() == windows_.capacity()) {
      windows_.reserve(std::min(senders_max_, std::max<size_t>(16, windows_.capacity() * 2)));
    }
    windows_.emplace_back();
    slot = windows_.size() - 1;
  } else {
    // Retire the least recently used window (ties cannot happen: last_use values are unique).
    slot = 0;
    for (size_t i = 1; i < windows_.size(); ++i) {
      if (windows_[i].last_use < windows_[slot].last_use) slot = i;
    }
    const Window& old = windows_[slot];
    index_.erase(old.sender_id);
    if (retired_max_ > 0) {
      Retired r{old.sender_id, old.top};
      if (retired_.size() < retired_max_) {
        retired_.push_back(r);
      } else {
        retired_[retired_next_] = r;
        retired_next_ = (retired_next_ + 1) % retired_max_;
      }
    }
    windows_[slot] = Window{};
  }
  windows_[slot].sender_id = sender_id;
  index_[sender_id] = static_cast<uint32_t>(slot);
  return slot;
}

bool ReplayTable::accept(uint64_t sender_id, uint64_t counter) {
  if (counter == 0) return false;
  auto it = index_.find(sender_id);
  if (it != index_.end()) {
    Window& w = windows_[it->second];
    if (!window_accept(w, counter)) return false;
    w.last_use = ++use_seq_;
    return true;
  }
  // A sender without a window: new, or retired. A retired sender resumes above its old top; the
  // counters in between that it never delivered are treated as seen (the safe side).
  uint64_t floor = 0;
  for (size_t i = 0; i < retired_.size(); ++i) {
    if (retired_[i].sender_id == sender_id) {
      floor = retired_[i].top;
      if (counter <= floor) return false;
      // Forget the retired entry: the new window covers everything up to its top from now on.
      // (Moving the last ring entry here would reorder the ring; mark it free instead.)
      retired_[i].sender_id = 0;
      retired_[i].top = 0;
      break;
    }
  }
  size_t slot = new_window(sender_id);
  Window& w = windows_[slot];
  if (floor != 0) {
    // Everything at or below the retired top counts as seen: start the window there, full.
    // Bits above the top in the top's own word stand for counters not yet seen: clear them.
    w.top = floor;
    w.bitmap.fill(~uint64_t{0});
    uint64_t bit = floor % 64;
    w.bitmap[(floor / 64) % kWords] = bit == 63 ? ~uint64_t{0} : (uint64_t{2} << bit) - 1;
  }
  bool ok = window_accept(w, counter);
  AGENT_ASSERT(ok);  // a fresh window accepts any counter above its top
  w.last_use = ++use_seq_;
  return true;
}

}  // namespace gossip::crypto
