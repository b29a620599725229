// The transmit-limited broadcast queue: urgent news first, least-transmitted next, newest among
// equals; newer news about a key replaces older; entries retire at the retransmit limit; the
// queue is bounded; and user-event de-duplication by Lamport time.
#include <gtest/gtest.h>

#include "agent/gossip/broadcast_queue.h"
#include "agent/gossip/event_buffer.h"

TEST(BroadcastQueue, RetransmitLimitGrowsWithLogN) {
  EXPECT_EQ(gossip::retransmit_limit(4, 0), 4u);
  EXPECT_EQ(gossip::retransmit_limit(4, 1), 4u);
  EXPECT_EQ(gossip::retransmit_limit(4, 9), 4u);    // ceil(log10(10)) = 1
  EXPECT_EQ(gossip::retransmit_limit(4, 10), 8u);   // ceil(log10(11)) = 2
  EXPECT_EQ(gossip::retransmit_limit(4, 99), 8u);
  EXPECT_EQ(gossip::retransmit_limit(4, 100), 12u);
  EXPECT_EQ(gossip::retransmit_limit(4, 1000), 16u);
}

TEST(BroadcastQueue, OrderReplacementAndLimit) {
  gossip::BroadcastQueue q(100);
  q.queue("m/a", "alive-a", false);
  q.queue("m/b", "alive-b", false);
  q.queue("m/c", "dead-c", true);
  q.queue("m/a", "suspect-a", false);  // replaces alive-a
  EXPECT_EQ(q.size(), 3u);
  std::vector<std::string> out;
  q.take(1000, 0, 10, 2, &out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0], "dead-c");     // urgent first
  EXPECT_EQ(out[1], "suspect-a");  // then newest among equal transmits
  EXPECT_EQ(out[2], "alive-b");
  q.queue("m/d", "alive-d", false);  // fresh: 0 transmits, goes ahead of non-urgent old news
  out.clear();
  q.take(1000, 0, 2, 2, &out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], "dead-c");
  EXPECT_EQ(out[1], "alive-d");
  // dead-c reached its limit of 2 and is gone.
  EXPECT_FALSE(q.contains("m/c"));
  out.clear();
  q.take(1000, 0, 10, 2, &out);
  EXPECT_EQ(out.size(), 3u);  // suspect-a, alive-b (2nd transmit), alive-d (2nd)
  EXPECT_TRUE(q.empty());
}

TEST(BroadcastQueue, BudgetIsRespectedAndSmallerEntriesStillFit) {
  gossip::BroadcastQueue q(100);
  q.queue("big", std::string(100, 'x'), true);
  q.queue("small", "yy", false);
  std::vector<std::string> out;
  const size_t used = q.take(50, 1, 10, 5, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], "yy");
  EXPECT_EQ(used, 3u);
}

TEST(BroadcastQueue, BoundedEvictsTheMostTransmitted) {
  gossip::BroadcastQueue q(3);
  q.queue("a", "a", false);
  std::vector<std::string> out;
  q.take(100, 0, 10, 10, &out);  // a has 1 transmit
  q.queue("b", "b", false);
  q.queue("c", "c", false);
  q.queue("d", "d", false);  // full: evicts a
  EXPECT_EQ(q.size(), 3u);
  EXPECT_FALSE(q.contains("a"));
  EXPECT_EQ(q.dropped_full(), 1u);
}

TEST(EventBuffer, LamportClockAndDeduplication) {
  gossip::LamportClock c;
  EXPECT_EQ(c.increment(), 1u);
  c.witness(10);
  EXPECT_EQ(c.time(), 10u);  // the latest time seen, not one past it (event_buffer.h)
  c.witness(10);
  EXPECT_EQ(c.time(), 10u) << "witnessing a peer's clock again does not move it";
  c.witness(3);
  EXPECT_EQ(c.time(), 10u);
  EXPECT_EQ(c.increment(), 11u);

  gossip::EventBuffer b(4, 2);
  EXPECT_EQ(b.record(5, "x", "1", 6), gossip::EventVerdict::kNew);
  EXPECT_EQ(b.record(5, "x", "1", 6), gossip::EventVerdict::kDuplicate);
  EXPECT_EQ(b.record(5, "x", "2", 6), gossip::EventVerdict::kNew);  // same time, other payload
  EXPECT_EQ(b.record(5, "y", "", 6), gossip::EventVerdict::kSlotFull);
  EXPECT_EQ(b.record(1, "z", "", 20), gossip::EventVerdict::kStale);  // older than the ring
  EXPECT_EQ(b.record(9, "x", "1", 10), gossip::EventVerdict::kNew);   // slot 1 reused for t=9
  EXPECT_EQ(b.record(5, "x", "1", 10), gossip::EventVerdict::kStale);  // 5 < 10 - 4
}
