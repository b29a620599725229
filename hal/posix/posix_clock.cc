#include "hal/posix/posix_clock.h"

#include <time.h>

#include "agent/base/assert.h"

namespace hal::posix {
namespace {

int64_t read_ns(clockid_t id) {
  struct timespec ts;
  // clock_gettime on these two clocks cannot fail on a working system; if it does, nothing
  // time-based in the agent can be trusted any more.
  int rc = clock_gettime(id, &ts);
  AGENT_ASSERT_MSG(rc == 0, "clock_gettime failed");
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace

base::MonoTime PosixClock::mono_now() { return base::MonoTime::from_ns(read_ns(CLOCK_MONOTONIC)); }

base::WallTime PosixClock::wall_now() {
  return base::WallTime::from_unix_ns(read_ns(CLOCK_REALTIME));
}

}  // namespace hal::posix
