// hal/posix/os_error.h -- the one place where errno values become base::Status codes.
//
// Every POSIX call in hal/posix that fails goes through os_error(), so that callers in agent/
// branch on a small set of codes (base::Code) and people read the OS's own reason: the message is
// "<what>: <strerror text>", e.g. "connect 127.0.0.1:1: Connection refused". errno values never
// leave hal/posix (hal/net.h).
//
// Threading: pure functions; strerror_r keeps it thread-safe.
// Not here: retry policy (EINTR is retried by the callers that can retry), logging.
#pragma once

#include <string_view>

#include "agent/base/status.h"

namespace hal::posix {

// The base::Code for `err` (an errno value). Exposed for tests and for the few callers that
// need to branch before building a message.
base::Code code_for_errno(int err);

// A non-OK Status for `err` with the message "<what>: <strerror(err)>". `err` must be non-zero.
base::Status os_error(int err, std::string_view what);

}  // namespace hal::posix
