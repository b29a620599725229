// Time and duration types.
//
// Two clocks, two types, so they cannot be mixed by accident:
//   MonoTime -- monotonic nanoseconds since an arbitrary origin (boot, or 0 in the simulator).
//               Every timeout, interval and deadline in the cores uses it.
//   WallTime -- nanoseconds since the Unix epoch, UTC. Only for what people read (log lines,
//               API timestamps) and for certificates; never for deciding when something fires.
// Duration is a signed nanosecond count. All three are plain 64-bit values, cheap to copy.
//
// Nobody in agent/ reads a clock: the current time is passed in (hal/clock.h provides it).
#pragma once

#include <compare>
#include <cstdint>

namespace base {

class Duration {
 public:
  constexpr Duration() = default;
  static constexpr Duration nanos(int64_t n) { return Duration(n); }
  static constexpr Duration micros(int64_t n) { return Duration(n * 1000); }
  static constexpr Duration millis(int64_t n) { return Duration(n * 1000 * 1000); }
  static constexpr Duration seconds(int64_t n) { return Duration(n * 1000 * 1000 * 1000); }
  static constexpr Duration zero() { return Duration(0); }
  // The largest representable duration: "never" for deadlines.
  static constexpr Duration infinite() { return Duration(INT64_MAX); }

  constexpr int64_t ns() const { return ns_; }
  constexpr int64_t us() const { return ns_ / 1000; }
  constexpr int64_t ms() const { return ns_ / (1000 * 1000); }
  constexpr int64_t sec() const { return ns_ / (1000 * 1000 * 1000); }
  constexpr bool is_infinite() const { return ns_ == INT64_MAX; }

  constexpr Duration operator+(Duration o) const { return Duration(sat_add(ns_, o.ns_)); }
  constexpr Duration operator-(Duration o) const { return Duration(sat_add(ns_, -o.ns_)); }
  constexpr Duration operator*(int64_t k) const { return Duration(ns_ * k); }
  constexpr Duration operator/(int64_t k) const { return Duration(ns_ / k); }
  constexpr auto operator<=>(const Duration&) const = default;

 private:
  constexpr explicit Duration(int64_t ns) : ns_(ns) {}
  static constexpr int64_t sat_add(int64_t a, int64_t b) {
    if (b > 0 && a > INT64_MAX - b) return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b) return INT64_MIN;
    return a + b;
  }
  int64_t ns_ = 0;
};

class MonoTime {
 public:
  constexpr MonoTime() = default;
  static constexpr MonoTime from_ns(int64_t ns) { return MonoTime(ns); }
  // A time after every other: the deadline of a timer that never fires.
  static constexpr MonoTime never() { return MonoTime(INT64_MAX); }
  constexpr int64_t ns() const { return ns_; }
  constexpr bool is_never() const { return ns_ == INT64_MAX; }

  constexpr MonoTime operator+(Duration d) const { return MonoTime((Duration::nanos(ns_) + d).ns()); }
  constexpr MonoTime operator-(Duration d) const { return MonoTime((Duration::nanos(ns_) - d).ns()); }
  constexpr Duration operator-(MonoTime o) const { return Duration::nanos(ns_) - Duration::nanos(o.ns_); }
  constexpr auto operator<=>(const MonoTime&) const = default;

 private:
  constexpr explicit MonoTime(int64_t ns) : ns_(ns) {}
  int64_t ns_ = 0;
};

class WallTime {
 public:
  constexpr WallTime() = default;
  static constexpr WallTime from_unix_ns(int64_t ns) { return WallTime(ns); }
  constexpr int64_t unix_ns() const { return ns_; }
  constexpr int64_t unix_sec() const { return ns_ / (1000 * 1000 * 1000); }
  constexpr WallTime operator+(Duration d) const { return WallTime((Duration::nanos(ns_) + d).ns()); }
  constexpr Duration operator-(WallTime o) const { return Duration::nanos(ns_) - Duration::nanos(o.ns_); }
  constexpr auto operator<=>(const WallTime&) const = default;

 private:
  constexpr explicit WallTime(int64_t ns) : ns_(ns) {}
  int64_t ns_ = 0;
};

// Formats as RFC 3339 UTC with milliseconds, "2026-11-22T10:04:05.123Z", into `out` (at least
// 25 bytes). Returns the number of characters written, excluding the terminating NUL.
int format_rfc3339(WallTime t, char* out, int out_bytes);

// Formats a duration for people: "1h2m3s", "250ms", "12us".
int format_duration(Duration d, char* out, int out_bytes);

}  // namespace base
