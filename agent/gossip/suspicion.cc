// Lifeguard's dynamic suspicion timeout (suspicion.h).
#include "agent/gossip/suspicion.h"

#include <algorithm>
#include <cmath>

namespace gossip {

SuspicionTimeouts suspicion_timeouts(uint32_t suspicion_mult, uint32_t suspicion_max_timeout_mult, size_t alive_count,
                                     base::Duration probe_interval) {
  // memberlist's suspicionTimeout(): the node scale is log10 of the fleet size, but never
  // below 1, so small fleets still wait suspicion_mult probe periods.
  const double n = static_cast<double>(std::max<size_t>(1, alive_count));
  const double scale = std::max(1.0, std::log10(n));
  const double min_ns = static_cast<double>(suspicion_mult) * scale * static_cast<double>(probe_interval.ns());
  SuspicionTimeouts t;
  t.min = base::Duration::nanos(static_cast<int64_t>(min_ns));
  t.max = t.min * static_cast<int64_t>(suspicion_max_timeout_mult);
  t.confirmations_expected = suspicion_mult > 2 ? suspicion_mult - 2 : 0;
  return t;
}

base::Duration suspicion_timeout(const SuspicionTimeouts& t, uint32_t confirmations) {
  if (t.confirmations_expected == 0) return t.min;
  // Lifeguard IV.B: the timeout falls logarithmically with confirmations, so the first
  // independent confirmations count most.
  const double frac = std::log(static_cast<double>(confirmations) + 1.0) /
                      std::log(static_cast<double>(t.confirmations_expected) + 1.0);
  const double span = static_cast<double>((t.max - t.min).ns());
  const int64_t ns = t.max.ns() - static_cast<int64_t>(std::floor(frac * span));
  return std::max(t.min, base::Duration::nanos(ns));
}

Suspicion::Suspicion(const SuspicionTimeouts& t, base::MonoTime start, std::string_view from)
    : t_(t), start_(start), originator_(from) {}

bool Suspicion::confirm(std::string_view from) {
  if (confirmers_.size() >= t_.confirmations_expected) return false;
  if (from == originator_) return false;
  return confirmers_.emplace(from).second;
}

base::MonoTime Suspicion::deadline() const { return start_ + suspicion_timeout(t_, confirmations()); }

}  // namespace gossip
