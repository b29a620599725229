// Lifeguard's local health multiplier (awareness.h).
#include "agent/gossip/awareness.h"

namespace gossip {

void Awareness::apply_delta(int32_t delta) {
  int64_t s = static_cast<int64_t>(score_) + delta;
  if (s < 0) s = 0;
  if (s > static_cast<int64_t>(max_) - 1) s = static_cast<int64_t>(max_) - 1;
  score_ = static_cast<uint32_t>(s);
}

}  // namespace gossip
