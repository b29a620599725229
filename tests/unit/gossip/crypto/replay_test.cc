// Proves the per-sender replay window accepts each counter once in any order within the window,
// refuses what is below it, keeps its bounds under many senders, and that a retired sender
// resumes only above its old highest counter.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "agent/base/random.h"
#include "agent/gossip/crypto/replay.h"

namespace {

using gossip::crypto::ReplayTable;
constexpr uint64_t kW = ReplayTable::kWindowCounters;

TEST(ReplayTable, AcceptsEachCounterOnceInAnyOrderWithinTheWindow) {
  ReplayTable t;
  std::vector<uint64_t> order;
  for (uint64_t c = 1; c <= kW; ++c) order.push_back(c);
  base::Prng prng(7);
  for (size_t i = order.size() - 1; i > 0; --i) std::swap(order[i], order[prng.uniform(i + 1)]);
  for (uint64_t c : order) ASSERT_TRUE(t.accept(42, c)) << c;
  for (uint64_t c : order) ASSERT_FALSE(t.accept(42, c)) << c;
  EXPECT_FALSE(t.accept(42, 0));  // never sent
}

TEST(ReplayTable, RefusesCountersBelowTheWindowAndHandlesJumps) {
  ReplayTable t;
  ASSERT_TRUE(t.accept(1, 5000));
  EXPECT_TRUE(t.accept(1, 5000 - kW + 1));   // the oldest counter still tracked
  EXPECT_FALSE(t.accept(1, 5000 - kW));      // one below: too old to tell
  EXPECT_FALSE(t.accept(1, 1));
  ASSERT_TRUE(t.accept(1, 5001));
  ASSERT_TRUE(t.accept(1, 1'000'000));       // a jump clears the whole ring
  EXPECT_TRUE(t.accept(1, 1'000'000 - 63));  // counters in the jump were never seen
  EXPECT_TRUE(t.accept(1, 1'000'000 - 700));
  EXPECT_FALSE(t.accept(1, 5001));
  EXPECT_FALSE(t.accept(1, 1'000'000 - 700));
  ASSERT_TRUE(t.accept(1, UINT64_MAX));
  EXPECT_FALSE(t.accept(1, UINT64_MAX));
  EXPECT_TRUE(t.accept(1, UINT64_MAX - 1));
}

// Differential check against a plain set: the ring of words agrees with "seen set + window" for
// random traffic with reordering and duplicates.
TEST(ReplayTable, AgreesWithAReferenceModel) {
  ReplayTable t;
  std::vector<uint64_t> seen;
  uint64_t top = 0;
  base::Prng prng(1234);
  uint64_t next = 1;
  for (int i = 0; i < 200000; ++i) {
    uint64_t c;
    switch (prng.uniform(4)) {
      case 0: c = next++; break;                                     // in order
      case 1: c = next > 1500 ? next - prng.uniform(1500) : next; break;  // late, maybe too late
      case 2: next += prng.uniform(200); c = next; break;            // a gap
      default: c = seen.empty() ? next : seen[prng.uniform(seen.size())]; break;  // duplicate
    }
    bool fresh = c != 0 && std::find(seen.begin(), seen.end(), c) == seen.end();
    bool expect = fresh && (c > top || top - c < kW);
    ASSERT_EQ(t.accept(9, c), expect) << "i=" << i << " c=" << c << " top=" << top;
    if (expect) {
      seen.push_back(c);
      top = std::max(top, c);
      if (seen.size() > 4096) seen.erase(seen.begin(), seen.begin() + 1024);  // keep it quick
    }
  }
}

TEST(ReplayTable, StaysWithinItsBoundsUnderManySenders) {
  ReplayTable t(/*senders_max=*/64, /*retired_max=*/128);
  for (uint64_t s = 1; s <= 10000; ++s) {
    ASSERT_TRUE(t.accept(s, 10));
    ASSERT_LE(t.senders(), 64u);
    ASSERT_LE(t.retired(), 128u);
  }
  EXPECT_EQ(t.senders(), 64u);
  EXPECT_EQ(t.retired(), 128u);
  // Recent senders are still tracked in full; retired ones only above their old top; senders
  // forgotten by both tiers are accepted again (the documented limit).
  EXPECT_FALSE(t.accept(10000, 10));
  EXPECT_FALSE(t.accept(10000 - 64 - 5, 10));  // retired: not above its old top
  EXPECT_TRUE(t.accept(10000 - 64 - 5, 11));   // resumes above it
  EXPECT_TRUE(t.accept(1, 10));                // forgotten long ago
}

TEST(ReplayTable, EvictsTheLeastRecentlyUsedSender) {
  ReplayTable t(/*senders_max=*/2, /*retired_max=*/0);
  ASSERT_TRUE(t.accept(1, 1));
  ASSERT_TRUE(t.accept(2, 1));
  ASSERT_TRUE(t.accept(1, 2));  // sender 1 is now the most recent
  ASSERT_TRUE(t.accept(3, 1));  // evicts sender 2
  EXPECT_FALSE(t.accept(1, 2));
  EXPECT_TRUE(t.accept(2, 1));  // forgotten (no retired ring): the documented limit
}

TEST(ReplayTable, RetiredSenderResumesInTheSameWordAsItsOldTop) {
  ReplayTable t(/*senders_max=*/1, /*retired_max=*/4);
  ASSERT_TRUE(t.accept(1, 100));
  ASSERT_TRUE(t.accept(2, 1));   // retires sender 1 at top 100
  EXPECT_FALSE(t.accept(1, 99));
  EXPECT_FALSE(t.accept(1, 100));
  EXPECT_TRUE(t.accept(1, 101));  // same 64-counter word as 100
  EXPECT_TRUE(t.accept(1, 102));
  EXPECT_FALSE(t.accept(1, 101));
  EXPECT_FALSE(t.accept(1, 50));
}

}  // namespace
