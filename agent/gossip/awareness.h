// Lifeguard's local health multiplier (Dadgar et al. 2017, section IV.A, "Local Health Aware
// Probe"): a score that rises when this member shows signs of being the sick one -- a probe
// that failed without the nacks the indirect probers should have sent, a refutation of a
// suspicion about itself -- and falls with each successful probe. Timeouts are stretched by
// (score + 1), so a slow member probes more slowly and waits longer before accusing others.
//
// Events and deltas (memberlist's awareness.go, the paper's LHM rules):
//   successful probe (ack)                              -1
//   failed probe, no indirect probes possible           +1
//   failed probe, m of the expected nacks missing       +m
//   refuted a suspicion about ourselves                 +1
// The score is clamped to [0, max - 1].
//
// Threading: a plain value owned by the core. Not here: deciding when the events happen.
#pragma once

#include <cstdint>

#include "agent/base/time.h"

namespace gossip {

class Awareness {
 public:
  explicit Awareness(uint32_t max) : max_(max == 0 ? 1 : max) {}

  void apply_delta(int32_t delta);
  // 0 = healthy; max - 1 = as sick as we count.
  uint32_t score() const { return score_; }
  // `d` stretched by (score + 1).
  base::Duration scale(base::Duration d) const { return d * static_cast<int64_t>(score_ + 1); }

 private:
  uint32_t max_;
  uint32_t score_ = 0;
};

}  // namespace gossip
