// Lifeguard's dynamic suspicion timeout and local health multiplier: the formula's values for
// memberlist's LAN parameters, shrinking with independent confirmations only, and the
// awareness score's bounds.
#include <gtest/gtest.h>

#include "agent/gossip/awareness.h"
#include "agent/gossip/suspicion.h"

using base::Duration;
using base::MonoTime;

TEST(Suspicion, TimeoutsFollowTheFormula) {
  // n <= 10: log10 scale floors at 1 -> min = 4 * 1 s, max = 6 * min.
  auto t = gossip::suspicion_timeouts(4, 6, 8, Duration::seconds(1));
  EXPECT_EQ(t.min, Duration::seconds(4));
  EXPECT_EQ(t.max, Duration::seconds(24));
  EXPECT_EQ(t.confirmations_expected, 2u);
  // n = 100: log10 = 2 -> min 8 s.
  t = gossip::suspicion_timeouts(4, 6, 100, Duration::seconds(1));
  EXPECT_EQ(t.min, Duration::seconds(8));
  EXPECT_EQ(t.max, Duration::seconds(48));
  // n = 1000: 12 s.
  EXPECT_EQ(gossip::suspicion_timeouts(4, 6, 1000, Duration::seconds(1)).min, Duration::seconds(12));
  // Shrinks from max to min with k confirmations, log-shaped.
  t = gossip::suspicion_timeouts(4, 6, 8, Duration::seconds(1));
  EXPECT_EQ(gossip::suspicion_timeout(t, 0), Duration::seconds(24));
  const Duration one = gossip::suspicion_timeout(t, 1);
  // 24 - 20 * log(2)/log(3) = 11.38 s
  EXPECT_NEAR(static_cast<double>(one.ms()), 11381.0, 2.0);
  EXPECT_EQ(gossip::suspicion_timeout(t, 2), Duration::seconds(4));
  EXPECT_EQ(gossip::suspicion_timeout(t, 5), Duration::seconds(4));
  // suspicion_mult <= 2: no confirmations expected; min only.
  auto t2 = gossip::suspicion_timeouts(2, 6, 8, Duration::seconds(1));
  EXPECT_EQ(gossip::suspicion_timeout(t2, 0), t2.min);
}

TEST(Suspicion, OnlyIndependentConfirmationsCount) {
  auto t = gossip::suspicion_timeouts(4, 6, 8, Duration::seconds(1));
  gossip::Suspicion s(t, MonoTime::from_ns(0), "a");
  EXPECT_EQ(s.deadline(), MonoTime::from_ns(0) + Duration::seconds(24));
  EXPECT_FALSE(s.confirm("a"));  // the originator
  EXPECT_TRUE(s.confirm("b"));
  EXPECT_FALSE(s.confirm("b"));  // seen
  EXPECT_TRUE(s.confirm("c"));
  EXPECT_FALSE(s.confirm("d"));  // k reached
  EXPECT_EQ(s.confirmations(), 2u);
  EXPECT_EQ(s.deadline(), MonoTime::from_ns(0) + Duration::seconds(4));
}

TEST(Awareness, ScoreIsBoundedAndScalesTimeouts) {
  gossip::Awareness a(8);
  EXPECT_EQ(a.scale(Duration::millis(500)), Duration::millis(500));
  a.apply_delta(-1);
  EXPECT_EQ(a.score(), 0u);
  a.apply_delta(3);
  EXPECT_EQ(a.scale(Duration::millis(500)), Duration::millis(2000));
  a.apply_delta(100);
  EXPECT_EQ(a.score(), 7u);
  EXPECT_EQ(a.scale(Duration::seconds(1)), Duration::seconds(8));
  a.apply_delta(-2);
  EXPECT_EQ(a.score(), 5u);
}
