#include "hal/posix/posix_env.h"

namespace hal::posix {

PosixEnv::PosixEnv() {
  env_.clock = &clock_;
  env_.entropy = &entropy_;
  env_.net = &net_;
  env_.poller = &poller_;
  env_.signals = &signals_;
  env_.fs = &fs_;
  env_.sys = &sys_;
  env_.processes = &processes_;
  env_.cgroups = &cgroups_;
  env_.mounts = &mounts_;
  env_.netns = &netns_;
}

}  // namespace hal::posix
