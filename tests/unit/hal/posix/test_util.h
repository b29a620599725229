// Helpers shared by the hal/posix tests: waiting for readiness with a deadline, a temporary
// directory that removes itself. Tests wait for conditions, never for a fixed sleep.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "hal/posix/posix_clock.h"
#include "hal/posix/posix_fs.h"
#include "hal/posix/posix_poller.h"

namespace posix_test {

// How long any test waits for something that should happen at once on loopback.
inline constexpr base::Duration kPatience = base::Duration::seconds(10);

// Waits until `h` reports any of the bits in `want` (or hangup/error), at most kPatience.
// Returns the readiness bits seen, 0 on timeout. Uses its own Poller so tests stay independent.
inline uint8_t wait_ready(hal::Handle h, uint8_t want) {
  hal::posix::PosixPoller poller;
  hal::posix::PosixClock clock;
  if (!poller.add(h, want).is_ok()) return 0;
  const base::MonoTime deadline = clock.mono_now() + kPatience;
  uint8_t seen = 0;
  while (seen == 0 && clock.mono_now() < deadline) {
    hal::PollEvent events[4];
    auto n = poller.wait(deadline - clock.mono_now(), events);
    if (!n.is_ok()) break;
    for (size_t i = 0; i < *n; ++i) {
      if (events[i].handle == h && (events[i].ready & (want | hal::kHangup | hal::kError)))
        seen |= events[i].ready;
    }
  }
  poller.remove(h);
  return seen;
}

// A fresh private directory under $TMPDIR or /tmp, removed (tree and all) at scope exit.
class TempDir {
 public:
  TempDir() {
    auto r = fs_.make_temp_dir("weft-posix-test-");
    AGENT_ASSERT_MSG(r.is_ok(), r.status().message().c_str());
    path_ = *r;
  }
  ~TempDir() { fs_.remove_tree(path_).ignore(); }
  const std::string& path() const { return path_; }
  std::string join(const std::string& name) const { return path_ + "/" + name; }

 private:
  hal::posix::PosixFs fs_;
  std::string path_;
};

}  // namespace posix_test
