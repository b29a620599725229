// lincheck: flags, file, parse, check, print. See cli.h.
#include "tests/lin/cli.h"

#include <charconv>
#include <string>
#include <string_view>

#include "tests/lin/checker.h"
#include "tests/lin/history.h"

namespace lin {
namespace {

constexpr int kExitLinearizable = 0;
constexpr int kExitNotLinearizable = 1;
constexpr int kExitUnknownOrError = 2;

const char kUsage[] =
    "usage: lincheck [--format=auto|jepsen|weft] [--budget-ms=N] [--memo-mb=N] <history>\n"
    "  Checks a history of registers (keys) for linearizability.\n"
    "  exit 0 linearizable, 1 not linearizable, 2 unknown or error\n";

bool parse_positive(std::string_view s, int64_t* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size() && *out > 0;
}

}  // namespace

int lincheck_main(int argc, const char* const* argv, std::FILE* out, std::FILE* err) {
  Format format = Format::kAuto;
  CheckOptions options;
  const char* path = nullptr;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    int64_t v = 0;
    if (a == "--format=auto") {
      format = Format::kAuto;
    } else if (a == "--format=jepsen") {
      format = Format::kJepsen;
    } else if (a == "--format=weft") {
      format = Format::kWeft;
    } else if (a.substr(0, 12) == "--budget-ms=" && parse_positive(a.substr(12), &v)) {
      options.time_budget_ms = v;
    } else if (a.substr(0, 10) == "--memo-mb=" && parse_positive(a.substr(10), &v) &&
               v < (int64_t{1} << 40)) {
      options.memo_bytes_max = static_cast<size_t>(v) << 20;
    } else if (a == "-h" || a == "--help") {
      std::fputs(kUsage, out);
      return kExitLinearizable;
    } else if (!a.empty() && a[0] != '-' && path == nullptr) {
      path = argv[i];
    } else {
      std::fprintf(err, "lincheck: unexpected argument \"%s\"\n%s", argv[i], kUsage);
      return kExitUnknownOrError;
    }
  }
  if (path == nullptr) {
    std::fputs(kUsage, err);
    return kExitUnknownOrError;
  }
  std::string text, error;
  if (!read_file(path, &text, &error)) {
    std::fprintf(err, "lincheck: %s\n", error.c_str());
    return kExitUnknownOrError;
  }
  History history;
  if (!parse_history(text, format, &history, &error)) {
    std::fprintf(err, "lincheck: %s: %s\n", path, error.c_str());
    return kExitUnknownOrError;
  }
  CheckResult r = check_registers(history, options);
  std::fprintf(out,
               "%s: %s (%zu key%s, %zu operations checked, %zu dropped as unable to "
               "constrain, %llu steps, %.1f ms)\n",
               path, verdict_name(r.verdict), r.keys, r.keys == 1 ? "" : "s", r.operations,
               r.operations_dropped, static_cast<unsigned long long>(r.steps),
               static_cast<double>(r.elapsed_us) / 1000.0);
  if (!r.explanation.empty()) std::fprintf(out, "%s", r.explanation.c_str());
  if (!r.explanation.empty() && r.explanation.back() != '\n') std::fputc('\n', out);
  switch (r.verdict) {
    case Verdict::kLinearizable:
      return kExitLinearizable;
    case Verdict::kNotLinearizable:
      return kExitNotLinearizable;
    case Verdict::kUnknown:
      return kExitUnknownOrError;
  }
  return kExitUnknownOrError;
}

}  // namespace lin
