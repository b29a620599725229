// Proves Status/Result carry values and errors, time formatting is right, the PRNG is
// deterministic per seed, and the log ring bounds itself and lets a follower resume by seq.
#include <gtest/gtest.h>

#include "agent/base/log.h"
#include "agent/base/random.h"
#include "agent/base/status.h"
#include "agent/base/time.h"

namespace {

base::Result<int> parse_positive(int v) {
  if (v <= 0) return base::error(base::Code::kInvalidArgument, "want > 0, got %d", v);
  return v;
}

base::Status use_try(int v, int* out) {
  AGENT_ASSIGN_OR_RETURN(*out, parse_positive(v));
  return base::Status::ok();
}

TEST(Status, ResultCarriesValueOrError) {
  auto ok = parse_positive(3);
  ASSERT_TRUE(ok.is_ok());
  EXPECT_EQ(*ok, 3);
  auto bad = parse_positive(-2);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().code(), base::Code::kInvalidArgument);
  EXPECT_EQ(bad.status().to_string(), "invalid_argument: want > 0, got -2");
  int out = 0;
  EXPECT_TRUE(use_try(5, &out).is_ok());
  EXPECT_EQ(out, 5);
  EXPECT_EQ(use_try(0, &out).code(), base::Code::kInvalidArgument);
}

TEST(StatusDeathTest, ValueOfErrorAsserts) {
  auto bad = parse_positive(-1);
  EXPECT_DEATH((void)bad.value(), "assertion failed");
}

TEST(Time, FormatsRfc3339AndDurations) {
  char buf[40];
  base::format_rfc3339(base::WallTime::from_unix_ns(0), buf, sizeof buf);
  EXPECT_STREQ(buf, "1970-01-01T00:00:00.000Z");
  // 2026-11-22T10:04:05.123Z
  base::format_rfc3339(base::WallTime::from_unix_ns(1795341845123000000LL), buf, sizeof buf);
  EXPECT_STREQ(buf, "2026-11-22T10:04:05.123Z");
  base::format_duration(base::Duration::millis(250), buf, sizeof buf);
  EXPECT_STREQ(buf, "250ms");
  base::format_duration(base::Duration::seconds(3723), buf, sizeof buf);
  EXPECT_STREQ(buf, "1h2m3s");
  EXPECT_TRUE((base::MonoTime::never() + base::Duration::seconds(1)).is_never());
}

TEST(Prng, SameSeedSameStreamDifferentSeedDiffers) {
  base::Prng a(42), b(42), c(43);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    uint64_t x = a.next_u64();
    EXPECT_EQ(x, b.next_u64());
    if (x != c.next_u64()) differs = true;
  }
  EXPECT_TRUE(differs);
  for (int i = 0; i < 1000; ++i) {
    int64_t v = a.range(-3, 3);
    EXPECT_GE(v, -3);
    EXPECT_LE(v, 3);
  }
}

TEST(Log, RingIsBoundedAndFollowable) {
  base::Logger log(200);
  int64_t t = 0;
  log.set_clock([&] { return base::WallTime::from_unix_ns(t += 1000000); });
  for (int i = 0; i < 50; ++i) log.log(base::LogLevel::kInfo, "test", "line %d", i);
  std::vector<base::LogRecord> out;
  uint64_t last = log.read_after(0, 1000, base::LogLevel::kDebug, &out);
  EXPECT_EQ(last, 50u);
  EXPECT_LT(out.size(), 50u);  // older records were dropped to stay within 200 bytes
  EXPECT_EQ(out.back().text, "line 49");
  log.log(base::LogLevel::kWarn, "test", "after");
  log.log(base::LogLevel::kDebug, "test", "quiet");
  out.clear();
  last = log.read_after(last, 1000, base::LogLevel::kInfo, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].text, "after");
  EXPECT_EQ(last, 52u);
  EXPECT_NE(base::Logger::format(out[0]).find("warn  test: after"), std::string::npos);
}

}  // namespace
