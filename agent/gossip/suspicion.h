// Lifeguard's dynamic suspicion timeout (Dadgar et al. 2017, section IV.B, "Dynamic
// Suspicion Timeout"): a suspicion starts with a long timeout that shrinks, towards a minimum, as
// independent members confirm it, so a real failure is declared quickly once several members
// agree while a lone suspicion -- often caused by a sick suspecter -- gives the suspect time to
// refute.
//
// The formula is memberlist's (suspicion.go):
//   min     = suspicion_mult * max(1, log10(max(1, n))) * probe_interval
//   max     = suspicion_max_timeout_mult * min
//   k       = suspicion_mult - 2 confirmations expected
//   timeout = max(min, max - (max - min) * log(c + 1) / log(k + 1))   after c confirmations
// with n the number of members believed alive when the suspicion starts. The paper uses the
// same shape (its alpha/beta are the max/min multipliers and K the expected confirmations).
//
// Threading: a plain value owned by the core. Not here: where confirmations come from (swim.h).
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "agent/base/time.h"

namespace gossip {

struct SuspicionTimeouts {
  base::Duration min;
  base::Duration max;
  uint32_t confirmations_expected = 0;  // k
};

// The bounds for a fleet of `alive_count` members.
SuspicionTimeouts suspicion_timeouts(uint32_t suspicion_mult, uint32_t suspicion_max_timeout_mult,
                                     size_t alive_count, base::Duration probe_interval);

// The timeout after `confirmations` independent confirmations (at least min, at most max).
base::Duration suspicion_timeout(const SuspicionTimeouts& t, uint32_t confirmations);

class Suspicion {
 public:
  // A suspicion started at `start` by member `from` (never counted as a confirmation).
  Suspicion(const SuspicionTimeouts& t, base::MonoTime start, std::string_view from);

  // Records a confirmation from `from`. Returns true if it was new and counted (not the
  // originator, not seen before, fewer than k so far): the caller re-gossips the suspicion.
  bool confirm(std::string_view from);

  // When the suspect is declared dead: start + timeout(confirmations).
  base::MonoTime deadline() const;
  uint32_t confirmations() const { return static_cast<uint32_t>(confirmers_.size()); }
  base::MonoTime start() const { return start_; }
  const SuspicionTimeouts& timeouts() const { return t_; }

 private:
  SuspicionTimeouts t_;
  base::MonoTime start_;
  std::string originator_;
  std::set<std::string> confirmers_;  // at most k entries
};

}  // namespace gossip
