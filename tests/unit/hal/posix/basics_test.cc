// Proves the small POSIX HAL pieces: clocks move the right way, entropy fills buffers with
// different bytes each time, errno maps to the codes callers branch on with the OS's words in the
// message, and PosixEnv hands out a complete hal::Env.
#include <errno.h>
#include <gtest/gtest.h>
#include <time.h>

#include <vector>

#include "hal/posix/os_error.h"
#include "hal/posix/posix_clock.h"
#include "hal/posix/posix_entropy.h"
#include "hal/posix/posix_env.h"

namespace {

using base::Code;

TEST(PosixClock, MonotonicAndWall) {
  hal::posix::PosixClock clock;
  base::MonoTime prev = clock.mono_now();
  for (int i = 0; i < 1000; ++i) {
    base::MonoTime t = clock.mono_now();
    EXPECT_GE(t, prev);
    prev = t;
  }
  const int64_t wall = clock.wall_now().unix_sec();
  const int64_t libc = static_cast<int64_t>(time(nullptr));
  EXPECT_LE(std::abs(wall - libc), 2);
}

TEST(PosixEntropy, FillsWithFreshBytes) {
  hal::posix::PosixEntropy entropy;
  std::vector<uint8_t> a(64), b(64);
  ASSERT_TRUE(entropy.fill(a).is_ok());
  ASSERT_TRUE(entropy.fill(b).is_ok());
  EXPECT_NE(a, b);
  EXPECT_NE(a, std::vector<uint8_t>(64, 0));
  std::vector<uint8_t> big(1 << 20);
  ASSERT_TRUE(entropy.fill(big).is_ok());
  ASSERT_TRUE(entropy.fill(std::span<uint8_t>()).is_ok());
}

TEST(PosixOsError, MapsErrnoInOnePlace) {
  using hal::posix::code_for_errno;
  EXPECT_EQ(code_for_errno(ENOENT), Code::kNotFound);
  EXPECT_EQ(code_for_errno(EEXIST), Code::kAlreadyExists);
  EXPECT_EQ(code_for_errno(EADDRINUSE), Code::kAlreadyExists);
  EXPECT_EQ(code_for_errno(EACCES), Code::kPermissionDenied);
  EXPECT_EQ(code_for_errno(EAGAIN), Code::kUnavailable);
  EXPECT_EQ(code_for_errno(EWOULDBLOCK), Code::kUnavailable);
  EXPECT_EQ(code_for_errno(EMFILE), Code::kResourceExhausted);
  EXPECT_EQ(code_for_errno(ENOSPC), Code::kResourceExhausted);
  EXPECT_EQ(code_for_errno(ETIMEDOUT), Code::kTimeout);
  EXPECT_EQ(code_for_errno(ECONNREFUSED), Code::kIo);
  EXPECT_EQ(code_for_errno(ECONNRESET), Code::kIo);
  EXPECT_EQ(code_for_errno(EPIPE), Code::kIo);
  EXPECT_EQ(code_for_errno(EIO), Code::kIo);
  EXPECT_EQ(code_for_errno(ENOTEMPTY), Code::kFailedPrecondition);
  EXPECT_EQ(code_for_errno(EINVAL), Code::kInvalidArgument);
  EXPECT_EQ(code_for_errno(ENOSYS), Code::kUnimplemented);
  base::Status s = hal::posix::os_error(ECONNREFUSED, "connect 127.0.0.1:1");
  EXPECT_EQ(s.code(), Code::kIo);
  EXPECT_EQ(s.message(), "connect 127.0.0.1:1: Connection refused");
}

TEST(PosixEnv, ProvidesEveryService) {
  hal::posix::PosixEnv posix;
  hal::Env& env = posix.env();
  EXPECT_NE(env.clock, nullptr);
  EXPECT_NE(env.entropy, nullptr);
  EXPECT_NE(env.net, nullptr);
  EXPECT_NE(env.poller, nullptr);
  EXPECT_NE(env.signals, nullptr);
  EXPECT_NE(env.fs, nullptr);
  EXPECT_NE(env.sys, nullptr);
  EXPECT_GT(env.clock->mono_now().ns(), 0);
}

}  // namespace
