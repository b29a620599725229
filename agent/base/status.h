// Status and Result<T>: errors as values.
//
// Every expected failure in Weft -- a network error, a full disk, malformed input, "not the
// leader", a typo in config -- is returned as a Status (code + short message) or a Result<T>
// (a value or a non-OK Status). Broken invariants are not Statuses: they are AGENT_ASSERTs.
//
// Threading: plain values; safe to move between threads, not to share mutably.
// Not here: exceptions (the build has none), error chaining/stack traces.
#pragma once

#include <cstdint>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "agent/base/assert.h"

namespace base {

// Codes are few and coarse on purpose: callers branch on them, people read the message.
enum class Code : uint8_t {
  kOk = 0,
  kInvalidArgument,    // the input is malformed or out of its allowed range
  kNotFound,           // the thing named does not exist
  kAlreadyExists,      // the thing to create exists already
  kPermissionDenied,   // the caller may not do this
  kResourceExhausted,  // a named limit was reached (queue, table, body size, fds)
  kFailedPrecondition, // the system is not in a state where this can run
  kUnavailable,        // try again later: peer down, not the leader, would block
  kTimeout,            // a deadline passed
  kIo,                 // the OS refused: disk, socket, file
  kInternal,           // a bug or an impossible OS answer; message says which
  kUnimplemented,      // not supported on this platform or in this build
  kCancelled,          // the operation was stopped on purpose
};

// Short lower-case name of a code ("invalid_argument"), for logs and JSON.
std::string_view code_name(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {
    AGENT_ASSERT(code != Code::kOk);
  }

  static Status ok() { return Status(); }

  bool is_ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "invalid_argument: bad port" or "ok".
  std::string to_string() const;

  // Explicitly drop a status the caller has decided it does not care about.
  void ignore() const {}

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// Builds a Status from printf-style arguments. The message is truncated at 512 bytes.
Status error(Code code, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// Result<T>: either a T or a non-OK Status. Accessing value() of an error asserts.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : ok_(true) { new (&storage_.value) T(std::move(value)); }  // NOLINT
  Result(Status status) : ok_(false) {                                       // NOLINT
    AGENT_ASSERT(!status.is_ok());
    new (&storage_.status) Status(std::move(status));
  }
  Result(const Result& other) : ok_(other.ok_) {
    if (ok_) new (&storage_.value) T(other.storage_.value);
    else new (&storage_.status) Status(other.storage_.status);
  }
  Result(Result&& other) noexcept : ok_(other.ok_) {
    if (ok_) new (&storage_.value) T(std::move(other.storage_.value));
    else new (&storage_.status) Status(std::move(other.storage_.status));
  }
  Result& operator=(Result other) noexcept {
    destroy();
    ok_ = other.ok_;
    if (ok_) new (&storage_.value) T(std::move(other.storage_.value));
    else new (&storage_.status) Status(std::move(other.storage_.status));
    return *this;
  }
  ~Result() { destroy(); }

  bool is_ok() const { return ok_; }
  const Status& status() const {
    static const Status kOkStatus;
    return ok_ ? kOkStatus : storage_.status;
  }
  T& value() & {
    AGENT_ASSERT_MSG(ok_, status().message().c_str());
    return storage_.value;
  }
  const T& value() const& {
    AGENT_ASSERT_MSG(ok_, status().message().c_str());
    return storage_.value;
  }
  T&& value() && {
    AGENT_ASSERT_MSG(ok_, status().message().c_str());
    return std::move(storage_.value);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  void destroy() {
    if (ok_) storage_.value.~T();
    else storage_.status.~Status();
  }
  union Storage {
    Storage() {}
    ~Storage() {}
    T value;
    Status status;
  } storage_;
  bool ok_;
};

}  // namespace base

// Returns early from the enclosing function if `expr` (a Status) is not OK.
#define AGENT_TRY(expr)                          \
  do {                                           \
    ::base::Status agent_try_status_ = (expr);   \
    if (!agent_try_status_.is_ok()) return agent_try_status_; \
  } while (0)

#define AGENT_CONCAT_INNER_(a, b) a##b
#define AGENT_CONCAT_(a, b) AGENT_CONCAT_INNER_(a, b)
// Declares `lhs` from a Result<T> expression, or returns its Status from the enclosing function.
#define AGENT_ASSIGN_OR_RETURN(lhs, expr) \
  AGENT_ASSIGN_OR_RETURN_IMPL_(AGENT_CONCAT_(agent_result_, __LINE__), lhs, expr)
#define AGENT_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.is_ok()) return tmp.status();             \
  lhs = std::move(tmp).value()
