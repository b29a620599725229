#include "hal/posix/posix_entropy.h"

#include <errno.h>
#include <sys/random.h>

#include "hal/posix/os_error.h"

namespace hal::posix {

base::Status PosixEntropy::fill(std::span<uint8_t> out) {
  size_t done = 0;
  // Each call returns at least some bytes or an error, so this loop ends; large requests are
  // served in pieces (getrandom caps one call at 32 MiB).
  while (done < out.size()) {
    ssize_t n = getrandom(out.data() + done, out.size() - done, GRND_NONBLOCK);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        return base::error(base::Code::kUnavailable, "getrandom: entropy pool not initialised yet");
      }
      return os_error(errno, "getrandom");
    }
    done += static_cast<size_t>(n);
  }
  return base::Status::ok();
}

}  // namespace hal::posix
