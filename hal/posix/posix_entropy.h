// hal/posix/posix_entropy.h -- hal::Entropy over getrandom(2).
//
// fill() asks the kernel's CSPRNG with GRND_NONBLOCK: during early boot, before the pool is
// initialised, the call would block, and instead returns kUnavailable so the first process can
// carry on bringing the node up and retry later (hal/entropy.h). EINTR and short reads are
// retried internally. No fallback to /dev/urandom: Linux has had getrandom since 3.17.
// Threading: stateless, safe from any thread.
#pragma once

#include "hal/entropy.h"

namespace hal::posix {

class PosixEntropy final : public hal::Entropy {
 public:
  [[nodiscard]] base::Status fill(std::span<uint8_t> out) override;
};

}  // namespace hal::posix
