#include "agent/base/time.h"

#include <cstdio>

namespace base {

namespace {
// Howard Hinnant's days_from_civil inverse: days since 1970-01-01 to y/m/d, no libc tz lookup.
void civil_from_days(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t yy = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = yy + (*m <= 2);
}
}  // namespace

int format_rfc3339(WallTime t, char* out, int out_bytes) {
  int64_t ns = t.unix_ns();
  int64_t secs = ns / 1000000000;
  int64_t rem = ns % 1000000000;
  if (rem < 0) { rem += 1000000000; secs -= 1; }
  int64_t days = secs / 86400;
  int64_t sod = secs % 86400;
  if (sod < 0) { sod += 86400; days -= 1; }
  int64_t y; unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  return std::snprintf(out, static_cast<size_t>(out_bytes), "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ",
                       static_cast<long long>(y), m, d, static_cast<int>(sod / 3600),
                       static_cast<int>(sod / 60 % 60), static_cast<int>(sod % 60),
                       static_cast<int>(rem / 1000000));
}

int format_duration(Duration d, char* out, int out_bytes) {
  int64_t ns = d.ns();
  const char* sign = "";
  if (ns < 0) { sign = "-"; ns = -ns; }
  auto n = static_cast<size_t>(out_bytes);
  if (ns < 1000) return std::snprintf(out, n, "%s%lldns", sign, static_cast<long long>(ns));
  if (ns < 1000000) return std::snprintf(out, n, "%s%lldus", sign, static_cast<long long>(ns / 1000));
  if (ns < 1000000000) return std::snprintf(out, n, "%s%lldms", sign, static_cast<long long>(ns / 1000000));
  long long s = ns / 1000000000;
  if (s < 60) return std::snprintf(out, n, "%s%llds", sign, s);
  if (s < 3600) return std::snprintf(out, n, "%s%lldm%llds", sign, s / 60, s % 60);
  return std::snprintf(out, n, "%s%lldh%lldm%llds", sign, s / 3600, s / 60 % 60, s % 60);
}

}  // namespace base
