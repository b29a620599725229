// errno -> base::Code, in one table. See os_error.h.
#include "hal/posix/os_error.h"

#include <errno.h>
#include <string.h>

namespace hal::posix {
namespace {

// strerror_r comes in two flavours (XSI returns int, GNU returns char*); accept either.
[[maybe_unused]] const char* strerror_text(int rc, const char* buf) {
  return rc == 0 ? buf : "unknown error";
}
[[maybe_unused]] const char* strerror_text(const char* text, const char*) { return text; }

}  // namespace

base::Code code_for_errno(int err) {
  switch (err) {
    case ENOENT:
    case ESRCH:   // no such process (kill, pidfd_open)
    case ECHILD:  // not our child (waitpid on a process we did not start)
      return base::Code::kNotFound;
    case EEXIST:
    case EADDRINUSE:
      return base::Code::kAlreadyExists;
    case EACCES:
    case EPERM:
    case EROFS:
      return base::Code::kPermissionDenied;
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case ENOSPC:
    case EDQUOT:
    case EMLINK:
      return base::Code::kResourceExhausted;
    case ENOTDIR:
    case EISDIR:
    case ENOTEMPTY:
    case EBUSY:
    case ELOOP:
    case EXDEV:
    case ETXTBSY:
      return base::Code::kFailedPrecondition;
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case EINPROGRESS:
    case EALREADY:
    case EINTR:
    // The kernel's per-interface or per-socket queue is momentarily full: drop and try later.
    case ENOBUFS:
      return base::Code::kUnavailable;
    case ETIMEDOUT:
      return base::Code::kTimeout;
    case EINVAL:
    case ENAMETOOLONG:
    case EMSGSIZE:
    case EDESTADDRREQ:
    case EISCONN:
      return base::Code::kInvalidArgument;
    case ENOSYS:
    case EOPNOTSUPP:
#if ENOTSUP != EOPNOTSUPP
    case ENOTSUP:
#endif
    case EAFNOSUPPORT:
    case EPROTONOSUPPORT:
    case ESOCKTNOSUPPORT:
      return base::Code::kUnimplemented;
    case ECANCELED:
      return base::Code::kCancelled;
    case EBADF:
    case EFAULT:
    case ENOTSOCK:
      return base::Code::kInternal;
    default:
      // ECONNREFUSED, ECONNRESET, EPIPE, ENETUNREACH, EHOSTUNREACH, EIO, ...: the OS refused.
      return base::Code::kIo;
  }
}

base::Status os_error(int err, std::string_view what) {
  AGENT_ASSERT(err != 0);
  char buf[128];
  const char* text = strerror_text(strerror_r(err, buf, sizeof buf), buf);
  return base::error(code_for_errno(err), "%.*s: %s", static_cast<int>(what.size()), what.data(),
                     text);
}

}  // namespace hal::posix
